// Element types: exact round-to-nearest-even into bf16 and f32, and the bf16 bit conversions.
#include "datasets/dtype.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "datasets/errors.hpp"
#include "datasets/tensor.hpp"

namespace attn::data {
namespace {

const double kMaxBf16 = std::ldexp(255.0, 120);  // 0x7F7F = (2 - 2^-7) * 2^127

uint64_t bits(double x) {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

TEST(Dtype, Bf16TiesGoToEven) {
  const double ulp1 = std::ldexp(1.0, -7);                // spacing of bf16 in [1, 2)
  EXPECT_EQ(round_to(DType::bf16, 1.0 + ulp1 / 2), 1.0);  // tie, 1.0 is even
  EXPECT_EQ(round_to(DType::bf16, 1.0 + 3 * ulp1 / 2), 1.0 + 2 * ulp1);  // tie, up to even
  EXPECT_EQ(round_to(DType::bf16, -(1.0 + ulp1 / 2)), -1.0);
  EXPECT_EQ(round_to(DType::bf16, -(1.0 + 3 * ulp1 / 2)), -(1.0 + 2 * ulp1));
  EXPECT_EQ(round_to(DType::bf16, 1.0 + ulp1 / 2 - std::ldexp(1.0, -40)), 1.0);
  EXPECT_EQ(round_to(DType::bf16, 3.14159265358979), 3.140625);
  EXPECT_EQ(round_to(DType::bf16, 256.0 + 1.0), 256.0);  // tie at ulp 2 -> 256 (even)
  EXPECT_EQ(round_to(DType::bf16, 256.0 + 3.0), 260.0);  // tie between 258 (odd) and 260
}

// 1 + 2^-8 + 2^-30 is just above a bf16 tie. Rounding to f32 first loses the 2^-30 and lands
// exactly on the tie, which then goes to 1.0: the double-rounding error the exact path avoids.
TEST(Dtype, Bf16HasNoDoubleRoundingThroughFloat) {
  const double x = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);
  const double via_float = round_to(DType::bf16, double(static_cast<float>(x)));
  EXPECT_EQ(via_float, 1.0);
  EXPECT_EQ(round_to(DType::bf16, x), 1.0 + std::ldexp(1.0, -7));
  EXPECT_EQ(bf16_bits_from_double(x), 0x3F81);
}

TEST(Dtype, Bf16OverflowGoesToInfinity) {
  EXPECT_EQ(round_to(DType::bf16, kMaxBf16), kMaxBf16);
  const double half_ulp = std::ldexp(1.0, 119);
  EXPECT_EQ(round_to(DType::bf16, kMaxBf16 + half_ulp - std::ldexp(1.0, 80)), kMaxBf16);
  EXPECT_EQ(round_to(DType::bf16, kMaxBf16 + half_ulp), INFINITY);  // tie, max is odd
  EXPECT_EQ(round_to(DType::bf16, -(kMaxBf16 + half_ulp)), -INFINITY);
  EXPECT_EQ(round_to(DType::bf16, 1e300), INFINITY);
  EXPECT_EQ(round_to(DType::bf16, INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(round_to(DType::bf16, NAN)));
  EXPECT_EQ(bf16_bits_from_double(1e39), 0x7F80);
  EXPECT_EQ(bf16_bits_from_double(-1e39), 0xFF80);
}

TEST(Dtype, Bf16SubnormalsAndSignedZero) {
  const double tiny = std::ldexp(1.0, -133);  // smallest bf16 subnormal, bits 0x0001
  EXPECT_EQ(round_to(DType::bf16, tiny), tiny);
  EXPECT_EQ(bits(round_to(DType::bf16, tiny / 2)), bits(0.0));               // tie to 0 (even)
  EXPECT_EQ(bits(round_to(DType::bf16, -tiny / 2)), bits(-0.0));             // sign kept
  EXPECT_EQ(round_to(DType::bf16, tiny / 2 + std::ldexp(1.0, -180)), tiny);  // just above the tie
  EXPECT_EQ(round_to(DType::bf16, 1.5 * tiny), 2 * tiny);                    // tie 1 (odd) / 2
  EXPECT_EQ(round_to(DType::bf16, 127.5 * tiny), std::ldexp(1.0, -126));     // up into the normals
  EXPECT_EQ(round_to(DType::bf16, 1e-300), 0.0);
  EXPECT_EQ(bf16_bits_from_double(tiny), 0x0001);
  EXPECT_EQ(bf16_bits_from_double(-0.0), 0x8000);
  EXPECT_EQ(bf16_bits_from_double(127 * tiny), 0x007F);
}

/// An independent bf16 rounding: binary search among the positive finite bf16 values (whose
/// order is the order of their bit patterns), nearest wins, ties to the even pattern.
double reference_bf16(double x) {
  if (std::isnan(x)) return x;
  const double a = std::fabs(x);
  const double max_tie = kMaxBf16 + std::ldexp(1.0, 119);
  if (a >= max_tie) return std::copysign(INFINITY, x);
  uint32_t lo = 0, hi = 0x7F7F;  // double_from_bf16_bits(lo) <= a
  if (a >= kMaxBf16) return std::copysign(kMaxBf16, x);
  while (hi - lo > 1) {
    const uint32_t mid = (lo + hi) / 2;
    if (double_from_bf16_bits(uint16_t(mid)) <= a)
      lo = mid;
    else
      hi = mid;
  }
  const double vlo = double_from_bf16_bits(uint16_t(lo)), vhi = double_from_bf16_bits(uint16_t(hi));
  double r;
  if (a == vlo)
    r = vlo;
  else if (a - vlo < vhi - a)
    r = vlo;  // differences are exact (Sterbenz, or vlo == 0)
  else if (a - vlo > vhi - a)
    r = vhi;
  else
    r = (lo % 2 == 0) ? vlo : vhi;
  return std::copysign(r, x);
}

TEST(Dtype, Bf16MatchesAnIndependentRoundingOnRandomDoubles) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-140, 130);
  for (int i = 0; i < 200000; ++i) {
    double x = std::ldexp(mant(rng), expo(rng));
    if (i % 2) x = -x;
    if (i % 7 == 0)
      x = double_from_bf16_bits(uint16_t(rng() & 0x7F7F)) + std::ldexp(1.0, expo(rng) - 8);
    ASSERT_EQ(bits(round_to(DType::bf16, x)), bits(reference_bf16(x))) << "x = " << x;
  }
}

TEST(Dtype, F32RoundingMatchesTheHardwareConversion) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 200000; ++i) {
    uint64_t u = rng();
    double x;
    std::memcpy(&x, &u, sizeof x);
    if (std::isnan(x)) continue;
    if (i % 3 == 0)
      x = std::ldexp(std::fmod(std::fabs(x), 2.0) + 1.0,
                     int(rng() % 300) - 160);  // near f32's range
    ASSERT_EQ(bits(round_to(DType::f32, x)), bits(double(static_cast<float>(x)))) << "x = " << x;
  }
  EXPECT_EQ(round_to(DType::f64, 0.1), 0.1);
}

// Every one of the 65536 patterns: bits -> double -> bits is the identity; NaNs stay NaNs of
// the same sign (their payload need not survive).
TEST(Dtype, Bf16BitsRoundTripForAllPatterns) {
  for (uint32_t b = 0; b <= 0xFFFF; ++b) {
    const double x = double_from_bf16_bits(uint16_t(b));
    const uint32_t top = b << 16;  // bf16 is the top half of a binary32
    float expect;
    std::memcpy(&expect, &top, 4);
    const uint16_t back = bf16_bits_from_double(x);
    if (std::isnan(x)) {
      EXPECT_EQ(back & 0x7F80, 0x7F80) << b;
      EXPECT_NE(back & 0x007F, 0) << b;
      EXPECT_EQ(back & 0x8000, b & 0x8000) << b;
      continue;
    }
    ASSERT_EQ(bits(x), bits(double(expect))) << b;
    ASSERT_EQ(back, b) << "pattern " << b << " value " << x;
    ASSERT_EQ(bits(round_to(DType::bf16, x)), bits(x)) << b;
  }
  EXPECT_EQ(double_from_bf16_bits(0x3F80), 1.0);
  EXPECT_EQ(double_from_bf16_bits(0xC020), -2.5);
  EXPECT_EQ(double_from_bf16_bits(0x7F80), INFINITY);
}

TEST(Dtype, ParseAndPrint) {
  for (const char* s : {"bf16", "bfloat16"}) EXPECT_EQ(parse_dtype(s), DType::bf16);
  for (const char* s : {"f32", "fp32", "float32"}) EXPECT_EQ(parse_dtype(s), DType::f32);
  for (const char* s : {"f64", "fp64", "float64"}) EXPECT_EQ(parse_dtype(s), DType::f64);
  for (DType d : {DType::bf16, DType::f32, DType::f64}) EXPECT_EQ(parse_dtype(to_string(d)), d);
  try {
    parse_dtype("half");
    ADD_FAILURE() << "no throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'half'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos) << e.what();
  }
}

TEST(Tensor, NumelZerosAndShapeString) {
  const Tensor t = Tensor::zeros(DType::bf16, {2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 48u);
  EXPECT_EQ(t.dtype, DType::bf16);
  const std::vector<double> v = t.to_f64();
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double x) { return x == 0.0; }));
  EXPECT_EQ(shape_string({2, 32, 512, 128}), "[2, 32, 512, 128]");
  EXPECT_EQ(shape_string({}), "[]");
  EXPECT_THROW(Tensor::zeros(DType::f32, {2, -1}), InputError);
  EXPECT_THROW(Tensor::zeros(DType::f32, {int64_t(1) << 40, int64_t(1) << 40}), InputError);
}

// Values live in their own dtype; at/set/read_f64 convert exactly; copies share, clone copies.
TEST(Tensor, NativeStorageConvertsExactly) {
  Tensor t = Tensor::from_f64(DType::bf16, {3}, {1.5, -0.0, 3.140625});
  EXPECT_EQ(t.data<uint16_t>()[0], 0x3FC0);
  EXPECT_EQ(t.data<uint16_t>()[1], 0x8000);
  EXPECT_EQ(t.at(2), 3.140625);
  EXPECT_THROW(Tensor::from_f64(DType::bf16, {1}, {1.0 + std::ldexp(1.0, -12)}), InputError);
  EXPECT_THROW(t.data<float>(), std::logic_error);
  const Tensor shared = t;
  Tensor copy = t.clone();
  t.set(0, 2.0);
  EXPECT_EQ(shared.at(0), 2.0);
  EXPECT_EQ(copy.at(0), 1.5);
  double out[2];
  copy.read_f64(1, 2, out);
  EXPECT_TRUE(std::signbit(out[0]));
  EXPECT_EQ(out[1], 3.140625);
  Tensor f = Tensor::from_f64(DType::f32, {2}, {0.1f, NAN});
  EXPECT_EQ(f.at(0), double(0.1f));
  EXPECT_TRUE(std::isnan(f.at(1)));
}

}  // namespace
}  // namespace attn::data

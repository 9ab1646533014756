// ULP distances, the arithmetic floor, the error histogram and ULP percentiles.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "reports/detail/fast_rounding.hpp"
#include "reports/accuracy/error_metrics.hpp"

#include <random>

namespace attn::report {
namespace {

using data::DType;

TEST(UlpDistance, Bf16KnownValues) {
  EXPECT_EQ(ulp_distance(DType::bf16, 1.0, 1.0), 0);
  EXPECT_EQ(ulp_distance(DType::bf16, 1.0, 1.0078125), 1);     // 1 + 2^-7: next above 1
  EXPECT_EQ(ulp_distance(DType::bf16, 1.0, 0.99609375), 1);    // 1 - 2^-8: next below 1
  EXPECT_EQ(ulp_distance(DType::bf16, 1.0, 1.0 + 2 * 0.0078125), 2);
  EXPECT_EQ(ulp_distance(DType::bf16, 1.0, 0.5), 128);         // a whole binade of 2^7 steps
  EXPECT_EQ(ulp_distance(DType::bf16, 1.001, 1.0), 0);         // the reference rounds to 1
  EXPECT_EQ(ulp_distance(DType::bf16, 0.0, -0.0), 0);
  const double tiny = std::ldexp(1.0, -133);                   // smallest bf16 subnormal
  EXPECT_EQ(ulp_distance(DType::bf16, tiny, -tiny), 2);        // counted across zero
  EXPECT_EQ(ulp_distance(DType::bf16, -1.0, -1.0078125), 1);
  EXPECT_TRUE(std::isnan(ulp_distance(DType::bf16, 1.0, std::nan(""))));
}

TEST(UlpDistance, F32AndF64InTheirOwnSteps) {
  EXPECT_EQ(ulp_distance(DType::f32, 1.0, double(std::nextafter(1.0f, 2.0f))), 1);
  EXPECT_EQ(ulp_distance(DType::f32, 1.0, double(std::nextafter(1.0f, 0.0f))), 1);
  EXPECT_EQ(ulp_distance(DType::f64, 1.0, std::nextafter(std::nextafter(1.0, 2.0), 2.0)), 2);
}

TEST(FastRounding, AgreesWithRoundTo) {
  std::mt19937_64 rng(7);
  std::vector<double> xs = {0.0, -0.0, 1.0, 1.00390625, 1.01171875, -1.00390625, 0x1.fep127,
                            0x1.fefp127, 0x1.ffp127, 0x1p128, 0x1p-126, 0x1.01p-126, 0x1p-130,
                            0x1p-133, 0x1p-134, 0x1.8p-134, 3.4028235677973366e38, 3.4028234663852886e38,
                            1e-45, 1e-300, 1e300, INFINITY, -INFINITY};
  std::uniform_int_distribution<int> exp(-140, 130);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  for (int i = 0; i < 200000; ++i) {
    double x = std::ldexp(mant(rng), exp(rng)) * (i % 2 ? -1 : 1);
    if (i % 3 == 0) {  // exact ties of bf16 and fp32
      x = data::round_to(data::DType::bf16, x) + std::ldexp(1.0, std::ilogb(x) - 8);
    } else if (i % 3 == 1) {
      x = data::round_to(data::DType::f32, x) + std::ldexp(1.0, std::ilogb(x) - 24);
    }
    xs.push_back(x);
  }
  for (double x : xs) {
    for (data::DType d : {data::DType::bf16, data::DType::f32}) {
      const double a = detail::round_to_fast(d, x), b = data::round_to(d, x);
      ASSERT_TRUE(a == b && std::signbit(a) == std::signbit(b))
          << std::hexfloat << x << " -> " << a << " vs round_to " << b << " (" << data::to_string(d) << ")";
    }
  }
}

TEST(ArithmeticFloor, HandComputedBf16AndF32) {
  // x = 1: 1 + 0.3 -> 1.296875 (bf16 step 2^-7 in [1, 2)); - 0.3 -> 0.99609375 (step 2^-8).
  EXPECT_EQ(arithmetic_floor_term(DType::bf16, 1.0, 0.3), 0.00390625);
  // x = 0: 0.3 -> 0.30078125 (step 2^-9); 0.30078125 - 0.3 = 7.8125e-4 -> 205 * 2^-18.
  EXPECT_EQ(arithmetic_floor_term(DType::bf16, 0.0, 0.3), 0.000782012939453125);
  // fp32, x = 1: one step below 1 (2^-24).
  EXPECT_EQ(arithmetic_floor_term(DType::f32, 1.0, 0.3), std::ldexp(1.0, -24));
  EXPECT_EQ(arithmetic_floor_term(DType::bf16, 1.0, 0.0), 0.0);
}

TEST(ErrorHistogram, DecadeBinsZeroAndNonFinite) {
  ErrorHistogram h;
  for (double e : {0.0, 5e-13, 1e-12, 3e-5, 1e-4, 99.0, 100.0, 1e300})
    h.add(e);
  h.add(std::numeric_limits<double>::infinity());
  h.add(std::nan(""));
  EXPECT_EQ(h.zero, 1);
  EXPECT_EQ(h.below, 1);
  EXPECT_EQ(h.decades[0], 1);   // [1e-12, 1e-11): 1e-12 sits on its lower edge
  EXPECT_EQ(h.decades[7], 1);   // [1e-5, 1e-4): 3e-5
  EXPECT_EQ(h.decades[8], 1);   // [1e-4, 1e-3): 1e-4
  EXPECT_EQ(h.decades[13], 1);  // [1e1, 1e2): 99
  EXPECT_EQ(h.above, 2);        // 100 and 1e300
  EXPECT_EQ(h.nonfinite, 2);
  EXPECT_EQ(h.total(), 10);
}

TEST(UlpAccumulator, NearestRankPercentiles) {
  UlpAccumulator a;
  for (int i = 0; i < 100; ++i) a.add(double(i));
  a.add(std::nan(""));  // ignored
  EXPECT_EQ(a.count(), 100);
  EXPECT_EQ(a.percentile(0.50), 49);
  EXPECT_EQ(a.percentile(0.99), 98);
  EXPECT_EQ(a.max(), 99);
  a.add(1e6);  // beyond the table
  EXPECT_EQ(a.max(), 1e6);
  EXPECT_EQ(a.percentile(1.0), 1e6);
  EXPECT_EQ(a.percentile(0.50), 50);
}

}  // namespace
}  // namespace attn::report

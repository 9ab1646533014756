// The generator: deterministic, exact in its dtype, and shaped like real attention inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include <omp.h>

#include "datasets/case_store.hpp"
#include "datasets/detail/counter_rng.hpp"
#include "datasets/detail/fast_round.hpp"
#include "datasets/detail/portable_math.hpp"
#include "datasets/input_hash.hpp"
#include "datasets/limits.hpp"
#include "datasets/errors.hpp"
#include "datasets/generator.hpp"

namespace attn::data {
namespace {

GeneratorSpec small_spec() {
  GeneratorSpec s;
  s.preset = "llama3-8b";
  s.heads = 4;
  s.kv_heads = 2;
  s.seq = 64;
  s.ttt_step = 2;
  s.batch = 2;
  s.pad = {0, 5};
  s.seed = 42;
  return s;
}

TEST(Generator, SameSeedSameBytesOtherSeedOtherBytes) {
  const CaseInputs a = generate_case(small_spec());
  const CaseInputs b = generate_case(small_spec());
  GeneratorSpec other = small_spec();
  other.seed = 43;
  const CaseInputs c = generate_case(other);
  EXPECT_EQ(input_hash(a), input_hash(b));
  EXPECT_NE(input_hash(a), input_hash(c));
}

// The same bytes on every machine: this hash was produced on the Debian CPU machine and must be
// reproduced on the GPU image too (portable math, no FMA contraction, a counter-based RNG). A
// change to the generator's algorithm changes it: update it deliberately, and say so in the
// commit.
TEST(Generator, GoldenHashOfASmallCase) {
  EXPECT_EQ(input_hash(generate_case(small_spec())), "8f0bfd6c730c86b8");
}

// Rows are generated in parallel; every element is a function of its index alone, so the
// bytes do not depend on the number of threads.
TEST(Generator, SameBytesWhateverTheThreadCount) {
  GeneratorSpec s = small_spec();
  s.seq = 97;  // rows of odd length split differently between threads
  s.head_dim = 66;
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const std::string one = input_hash(generate_case(s));
  omp_set_num_threads(3);
  const std::string three = input_hash(generate_case(s));
  omp_set_num_threads(before);
  EXPECT_EQ(one, three);
}

// Absurd sizes are refused with the limit in the message, before anything is multiplied or
// allocated.
TEST(Generator, AbsurdSizesNameTheLimit) {
  GeneratorSpec s = small_spec();
  s.seq = int64_t(4503599627370496);  // 2^52
  try {
    generate_case(s);
    ADD_FAILURE() << "no throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--seq must be in [1, 1048576]"), std::string::npos) << e.what();
  }
  s = small_spec();
  s.batch = 4096;
  s.heads = 4096;
  s.kv_heads = 4096;
  s.seq = 1 << 20;
  s.head_dim = 1024;
  s.ttt_step = 0;
  s.pad = {0};
  EXPECT_THROW(generate_case(s), InputError);
}

// The counter-based stream: value n is a function of (seed, stream, n); normals have mean 0
// and variance 1.
TEST(CounterRng, NormalsAreStandardAndStreamsIndependent) {
  const detail::CounterRng a(7, 1), b(7, 2), a2(7, 1);
  EXPECT_EQ(a.bits(12345), a2.bits(12345));
  EXPECT_NE(a.bits(12345), b.bits(12345));
  double sum = 0, sum2 = 0, cross = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = a.normal(uint64_t(i)), y = b.normal(uint64_t(i));
    sum += x;
    sum2 += x * x;
    cross += x * y;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum2 / n, 1.0, 0.01);
  EXPECT_NEAR(cross / n, 0.0, 0.01);
}

// The generator's bit-level bf16 rounding equals round_to on random values, ties and
// boundaries included.
TEST(FastRound, Bf16BitsEqualRoundTo) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> e(-140.0, 130.0);
  std::uniform_real_distribution<double> m(1.0, 2.0);
  for (int i = 0; i < 200000; ++i) {
    double x = std::ldexp(m(rng), int(e(rng))) * ((i & 1) ? -1.0 : 1.0);
    if (i % 7 == 0) {  // an exact tie between two bf16 values
      const double lo = round_to(DType::bf16, x);
      x = lo + std::ldexp(1.0, std::ilogb(lo) - 8) * ((i & 2) ? 1.0 : -1.0);
    }
    ASSERT_EQ(detail::bf16_bits_rne(x), bf16_bits_from_double(x)) << x;
  }
  for (double x : std::vector<double>{0.0, -0.0, 1e-45, 3.4e38, -3.4e38, INFINITY, 1.17549435e-38, 1.1754942e-38})
    EXPECT_EQ(detail::bf16_bits_rne(x), bf16_bits_from_double(x)) << x;
}

TEST(Generator, ShapesValidLenAndDtypeExactness) {
  const CaseInputs c = generate_case(small_spec());
  EXPECT_EQ(c.q.shape, (std::vector<int64_t>{2, 4, 64, 128}));
  ASSERT_EQ(c.k.size(), 3u);
  ASSERT_EQ(c.v.size(), 3u);
  EXPECT_EQ(c.k[2].shape, (std::vector<int64_t>{2, 2, 64, 128}));
  EXPECT_EQ(c.valid_len, (std::vector<int64_t>{64, 59}));
  EXPECT_DOUBLE_EQ(c.config.scale, 1.0 / std::sqrt(128.0));
  for (const Tensor* t : {&c.q, &c.k[1], &c.v[0], &c.grad_out}) {
    EXPECT_EQ(t->dtype, DType::bf16);
    for (double x : t->to_f64()) ASSERT_EQ(round_to(DType::bf16, x), x) << "not a bf16 value";
  }
  GeneratorSpec one = small_spec();
  one.pad = {3};
  EXPECT_EQ(generate_case(one).valid_len, (std::vector<int64_t>{61, 61}));
}

TEST(Generator, RejectsInconsistentSpecs) {
  GeneratorSpec s = small_spec();
  s.heads = 6;
  s.kv_heads = 4;
  EXPECT_THROW(generate_case(s), InputError);
  s = small_spec();
  s.ttt_step = s.seq;
  EXPECT_THROW(generate_case(s), InputError);
  s = small_spec();
  s.pad = {0, 64};
  EXPECT_THROW(generate_case(s), InputError);
  s = small_spec();
  s.pad = {1, 2, 3};
  EXPECT_THROW(generate_case(s), InputError);
  s = small_spec();
  s.preset = "custom";
  s.head_dim = 0;
  EXPECT_THROW(generate_case(s), InputError);
}

// q is rotated at position i + t: the q of step 1 is the q of step 0 turned by one more
// position (the raw draws are the same stream), so RoPE's offset by the step is visible.
TEST(Generator, QueryRopePositionIsOffsetByTheStep) {
  GeneratorSpec s = small_spec();
  s.dtype = DType::f64;
  s.ttt_step = 0;
  const CaseInputs c0 = generate_case(s);
  s.ttt_step = 1;
  const CaseInputs c1 = generate_case(s);
  const int64_t D = 128, half = 64;
  const double theta = 500000.0;
  double worst = 0.0;
  const std::vector<double> q0 = c0.q.to_f64(), q1 = c1.q.to_f64();
  for (int64_t row = 0; row < 2 * 4 * 64; ++row) {
    const double* a = &q0[size_t(row * D)];
    const double* b = &q1[size_t(row * D)];
    for (int64_t d = 0; d < half; ++d) {
      const double w = std::pow(theta, -2.0 * double(d) / double(D));
      const double x = a[d] * std::cos(w) - a[d + half] * std::sin(w);
      const double y = a[d + half] * std::cos(w) + a[d] * std::sin(w);
      worst = std::max({worst, std::abs(x - b[d]), std::abs(y - b[d + half])});
    }
  }
  EXPECT_LT(worst, 1e-9);
}

// Realistic statistics: the temperature sets the logit spread, outlier key channels stand
// out, rows are peaked, and grad_out has the requested scale.
TEST(Generator, StatisticsLookLikeAttention) {
  GeneratorSpec s = small_spec();
  s.dtype = DType::f64;
  s.outlier_channels = 0;
  s.batch = 1;
  s.pad = {0};
  s.seq = 256;
  const CaseInputs plain = generate_case(s);
  const int64_t L = 256, D = 128;
  auto logits = [&](const CaseInputs& c, int64_t i, int64_t j) {  // head 0, kv head 0, block 0
    double acc = 0;
    for (int64_t d = 0; d < D; ++d) acc += c.q.at(i * D + d) * c.k[0].at(j * D + d);
    return acc * c.config.scale;
  };
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < L; i += 7)
    for (int64_t j = 0; j < L; j += 5, ++n) {
      const double a = logits(plain, i, j);
      sum += a;
      sum2 += a * a;
    }
  const double std_logit = std::sqrt(sum2 / double(n) - (sum / double(n)) * (sum / double(n)));
  EXPECT_NEAR(std_logit, s.logit_std, 0.15 * s.logit_std);

  s.outlier_channels = 4;
  const CaseInputs c = generate_case(s);
  std::vector<double> rms(size_t(D), 0.0);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t d = 0; d < D; ++d) rms[size_t(d)] += std::pow(c.k[0].at(i * D + d), 2) / double(L);
  std::vector<double> sorted = rms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[size_t(D / 2)];
  EXPECT_GE(std::count_if(rms.begin(), rms.end(), [&](double r) { return r > 9.0 * median; }), 4);

  double mean_top = 0;  // mean over rows of the largest causal softmax weight
  for (int64_t i = 0; i < L; ++i) {
    double mx = -1e300, z = 0;
    for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, logits(c, i, j));
    for (int64_t j = 0; j <= i; ++j) z += std::exp(logits(c, i, j) - mx);
    mean_top += 1.0 / z / double(L);
  }
  EXPECT_GT(mean_top, 0.3) << "rows are not peaked";

  double g2 = 0;
  const std::vector<double> grad = c.grad_out.to_f64();
  for (double g : grad) g2 += g * g;
  EXPECT_NEAR(std::sqrt(g2 / double(grad.size())), s.grad_scale, 0.05 * s.grad_scale);
}

TEST(PortableMath, AgreesWithLibm) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (int i = 0; i < 20000; ++i) {
    const double x = std::exp(u(rng) * 1380.0 - 690.0);
    EXPECT_NEAR(detail::portable_log(x), std::log(x), 4e-16 * std::max(1.0, std::abs(std::log(x))));
    const double e = u(rng) * 1300.0 - 650.0;
    EXPECT_NEAR(detail::portable_exp(e) / std::exp(e), 1.0, 1e-14);
    const double a = (u(rng) - 0.5) * 2e5;
    double sn = 0, cs = 0;
    detail::portable_sincos(a, &sn, &cs);
    EXPECT_NEAR(sn, std::sin(a), 1e-11);
    EXPECT_NEAR(cs, std::cos(a), 1e-11);
  }
}

}  // namespace
}  // namespace attn::data

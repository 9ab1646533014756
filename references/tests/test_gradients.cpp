// (b) Gradients against central finite differences of loss = sum(out * grad_out), for dq and
// every dk_m, dv_m, in both forms; and lse against log-sum-exp written from its definition.
#include <gtest/gtest.h>

#include <functional>

#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"
#include "references/tests/ttt_case.hpp"

namespace attn::ref {
namespace {

using testing::TttCase;
using Reference = std::function<TttResult(const TttInputs&)>;

TttShape tiny_shape() {
  TttShape s;
  s.B = 2, s.H = 2, s.Hkv = 1, s.L = 6, s.D = 3, s.t = 2;  // GQA 2:1, two singleton blocks
  return s;
}

double loss(const Reference& f, const TttCase& c) {
  const TttResult r = f(c.inputs(false));
  double acc = 0.0;
  for (size_t i = 0; i < r.out.size(); ++i) acc += r.out[i] * c.grad_out[i];
  return acc;
}

/// Central differences of the loss with respect to every element of `x` (a buffer of `c`),
/// compared with the analytic gradient `grad`: max |fd - grad| / max |grad| <= 1e-6.
void check_tensor(const Reference& f, TttCase& c, std::vector<double>& x,
                  const std::vector<double>& grad, const std::string& name) {
  ASSERT_EQ(x.size(), grad.size()) << name;
  std::vector<double> fd(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    const double h = 1e-6 * std::max(1.0, std::abs(x0));
    x[i] = x0 + h;
    const double up = loss(f, c);
    x[i] = x0 - h;
    const double down = loss(f, c);
    x[i] = x0;
    fd[i] = (up - down) / (2.0 * h);
  }
  ASSERT_GT(testing::max_abs(grad), 1e-3) << name << ": gradient too small to be a test";
  EXPECT_LE(testing::rel_err(fd, grad), 1e-6) << name;
}

void check_all_gradients(const Reference& f) {
  // valid_len = {6, 4} with t = 2: 4 and 2 valid rows.
  TttCase c = TttCase::random(tiny_shape(), {6, 4}, 2024, /*qk_sigma=*/1.5);
  const TttResult r = f(c.inputs(true));
  check_tensor(f, c, c.q, r.dq, "dq");
  for (int64_t m = 0; m < c.shape.blocks(); ++m) {
    check_tensor(f, c, c.k[m], r.dk[m], "dk[" + std::to_string(m) + "]");
    check_tensor(f, c, c.v[m], r.dv[m], "dv[" + std::to_string(m) + "]");
  }
}

TEST(Gradients, StructuredMatchesCentralDifferences) {
  check_all_gradients(
      [](const TttInputs& in) { return structured_reference(in, testing::tiled(2)); });
}

TEST(Gradients, DenseMatchesCentralDifferences) {
  check_all_gradients([](const TttInputs& in) { return dense_reference(in); });
}

TEST(Gradients, LseIsTheLogSumExpOfItsDefinition) {
  const TttCase c = TttCase::random(tiny_shape(), {6, 4}, 99, /*qk_sigma=*/1.0);
  const TttInputs in = c.inputs();
  const TttShape& s = c.shape;
  const TttResult structured = structured_reference(in, testing::tiled(4));
  const TttResult dense = dense_reference(in);
  auto dot = [&](const double* a, const double* b) {
    double acc = 0.0;
    for (int64_t d = 0; d < s.D; ++d) acc += a[d] * b[d];
    return acc;
  };
  int checked = 0;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t i = 0; i < valid_rows(in, b); ++i) {
        const double* qi = c.q.data() + ((b * s.H + h) * s.L + i) * s.D;
        const int64_t kv = (b * s.Hkv + h / s.group()) * s.L;
        double sum = 0.0;
        for (int64_t j = 0; j <= i; ++j)
          sum += std::exp(in.scale * dot(qi, in.k[0] + (kv + j) * s.D));
        for (int64_t m = 1; m <= s.t; ++m)
          sum += std::exp(in.scale * dot(qi, in.k[m] + (kv + i) * s.D));
        const size_t at = static_cast<size_t>((b * s.H + h) * s.L + i);
        EXPECT_NEAR(structured.lse[at], std::log(sum),
                    1e-14 * std::max(1.0, std::abs(std::log(sum))));
        EXPECT_NEAR(dense.lse[at], std::log(sum), 1e-14 * std::max(1.0, std::abs(std::log(sum))));
        ++checked;
      }
  EXPECT_EQ(checked, 2 * (4 + 2));
}

}  // namespace
}  // namespace attn::ref

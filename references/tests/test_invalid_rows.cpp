// (c) Rows outside the contract: out, lse, dq are exact zeros there, kv gradients are exact
// zeros at positions no valid row reads, and rewriting every input element that only invalid
// rows or padded keys touch changes no valid output or gradient by a single bit (both forms).
#include <gtest/gtest.h>

#include <functional>

#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"
#include "references/tests/ttt_case.hpp"

namespace attn::ref {
namespace {

using testing::TttCase;
using Reference = std::function<TttResult(const TttInputs&)>;

TttShape the_shape() {
  TttShape s;
  s.B = 3, s.H = 4, s.Hkv = 2, s.L = 23, s.D = 8, s.t = 3;
  return s;
}
const std::vector<int64_t> kValidLen = {23, 12, 2};  // valid rows: 20, 9, 0

/// Calls fn(buffer, flat index) for every element at a position >= valid_rows(b) of a
/// [B, heads, L, D] tensor.
template <class Fn>
void for_each_invalid(const TttInputs& in, int64_t heads, int64_t width, Fn fn) {
  const TttShape& s = in.shape;
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = valid_rows(in, b); i < s.L; ++i)
        for (int64_t d = 0; d < width; ++d) fn(((b * heads + h) * s.L + i) * width + d);
}

void check_form(const Reference& f) {
  const TttCase c = TttCase::random(the_shape(), kValidLen, 31);
  const TttInputs in = c.inputs();
  const TttShape& s = c.shape;
  const TttResult r = f(in);

  int64_t invalid = 0;
  for_each_invalid(in, s.H, s.D, [&](int64_t at) {
    ++invalid;
    ASSERT_EQ(r.out[at], 0.0) << "out at " << at;
    ASSERT_EQ(r.dq[at], 0.0) << "dq at " << at;
  });
  for_each_invalid(in, s.H, 1, [&](int64_t at) { ASSERT_EQ(r.lse[at], 0.0) << "lse at " << at; });
  for (int64_t m = 0; m < s.blocks(); ++m)
    for_each_invalid(in, s.Hkv, s.D, [&](int64_t at) {
      ASSERT_EQ(r.dk[m][at], 0.0) << "dk[" << m << "] at " << at;
      ASSERT_EQ(r.dv[m][at], 0.0) << "dv[" << m << "] at " << at;
    });
  EXPECT_EQ(invalid, s.H * s.D * ((23 - 20) + (23 - 9) + 23));

  // Rewrite every element only invalid rows / padded keys touch, with large finite values.
  TttCase poisoned = c;
  auto poison = [](std::vector<double>& buf) {
    return
        [&buf](int64_t at) { buf[at] = (at % 2 ? 1e3 : -1e3) * static_cast<double>(1 + at % 5); };
  };
  for_each_invalid(in, s.H, s.D, poison(poisoned.q));
  for_each_invalid(in, s.H, s.D, poison(poisoned.grad_out));
  for (int64_t m = 0; m < s.blocks(); ++m) {
    for_each_invalid(in, s.Hkv, s.D, poison(poisoned.k[m]));
    for_each_invalid(in, s.Hkv, s.D, poison(poisoned.v[m]));
  }
  ASSERT_NE(poisoned.q, c.q);
  const TttResult p = f(poisoned.inputs());
  EXPECT_TRUE(testing::same_bits(p.out, r.out)) << "out";
  EXPECT_TRUE(testing::same_bits(p.lse, r.lse)) << "lse";
  EXPECT_TRUE(testing::same_bits(p.dq, r.dq)) << "dq";
  for (int64_t m = 0; m < s.blocks(); ++m) {
    EXPECT_TRUE(testing::same_bits(p.dk[m], r.dk[m])) << "dk[" << m << "]";
    EXPECT_TRUE(testing::same_bits(p.dv[m], r.dv[m])) << "dv[" << m << "]";
  }
}

TEST(InvalidRows, StructuredZerosAndIndependence) {
  for (StructuredSchedule schedule : {StructuredSchedule::fused, StructuredSchedule::split}) {
    SCOPED_TRACE(schedule == StructuredSchedule::fused ? "fused" : "split");
    check_form([schedule](const TttInputs& in) {
      StructuredOptions opt = testing::tiled(8, 3);
      opt.schedule = schedule;
      return structured_reference(in, opt);
    });
  }
}

TEST(InvalidRows, DenseZerosAndIndependence) {
  check_form([](const TttInputs& in) { return dense_reference(in); });
}

TEST(InvalidRows, DenseMaskIsCausalPlusDiagonalOnValidRowsOnly) {
  const TttCase c = TttCase::random(the_shape(), kValidLen, 1);
  const TttInputs in = c.inputs();
  const int64_t L = 23, C = 4 * L;
  for (int64_t b = 0; b < 3; ++b) {
    const std::vector<bool> mask = dense_mask(in, b);
    ASSERT_EQ(mask.size(), static_cast<size_t>(L * C));
    int64_t set = 0;
    for (int64_t i = 0; i < L; ++i)
      for (int64_t col = 0; col < C; ++col) {
        const int64_t m = col / L, j = col % L;
        const bool want = i < valid_rows(in, b) && (m == 0 ? j <= i : j == i);
        EXPECT_EQ(mask[i * C + col], want) << "b " << b << " i " << i << " col " << col;
        set += mask[i * C + col];
      }
    const int64_t n = valid_rows(in, b);
    EXPECT_EQ(set, n * (n + 1) / 2 + 3 * n);
  }
}

}  // namespace
}  // namespace attn::ref

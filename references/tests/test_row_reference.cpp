// The pointwise reference (row_reference.hpp) against the structured reference, element by
// element, over GQA, MQA, padding, a sequence without a valid row, t = 0, 3 and 6, at rows 0,
// the structured form's tile boundaries (first and last rows of its diagonal tiles), the last
// valid row, the first invalid row and row L - 1:
//   - out, lse, dv0, dv_m (sums of positive weights times values): max |diff| over the row
//     <= 1e-12 max |structured| over the row (scalars: relative to themselves);
//   - dq, dk0, dk_m, whose terms carry dS = P (dP - delta) and cancel (a row whose weight sits
//     on one key has dq near 0): max |diff| <= 1e-12 times the largest sum of the terms'
//     magnitudes, sum |s p (|dP| + |delta|) k| per element, computed here by plain loops. In
//     most rows that is 1 to 12 times the row's own size; where a row cancels it is the size
//     rounding errors scale with, in both references (row 0 at t = 0, whose dq is exactly 0,
//     has a structured dq of pure rounding noise).
// Invalid rows: exact zeros and valid = false. The context values (logits, weights, the row's
// max logit and largest block-0 weight) are checked against plain loops over the inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>
#include <stdexcept>

#include "references/row_reference.hpp"
#include "references/structured_reference.hpp"
#include "references/tests/ttt_case.hpp"

namespace attn::ref {
namespace {

using testing::rel_err;
using testing::TttCase;

constexpr double kTol = 1e-12;

TttShape shape(int64_t B, int64_t H, int64_t Hkv, int64_t L, int64_t D, int64_t t) {
  TttShape s;
  s.B = B, s.H = H, s.Hkv = Hkv, s.L = L, s.D = D, s.t = t;
  return s;
}

struct RowParam {
  const char* name;
  TttShape shape;
  std::vector<int64_t> valid_len;
  int64_t tile;  ///< of the structured reference it is compared with
};

std::ostream& operator<<(std::ostream& os, const RowParam& p) { return os << p.name; }

double rel(double a, double b) { return b == 0.0 ? std::abs(a) : std::abs(a - b) / std::abs(b); }

bool all_zero(const std::vector<double>& x) { return testing::max_abs(x) == 0.0; }

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = a.size() == b.size() ? 0.0 : INFINITY;
  for (size_t k = 0; k < a.size() && k < b.size(); ++k) m = std::max(m, std::abs(a[k] - b[k]));
  return m;
}

double naive_dot(const double* x, const double* y, int64_t n) {
  double acc = 0.0;
  for (int64_t d = 0; d < n; ++d) acc += x[d] * y[d];
  return acc;
}

/// Plain-loop views of a case and its structured result.
struct Naive {
  const TttCase& c;
  const TttResult& ref;
  const TttShape& sh;

  int64_t qi(int64_t b, int64_t h, int64_t i) const { return ((b * sh.H + h) * sh.L + i) * sh.D; }
  int64_t ki(int64_t b, int64_t kvh, int64_t i) const {
    return ((b * sh.Hkv + kvh) * sh.L + i) * sh.D;
  }
  const double* q(int64_t b, int64_t h, int64_t i) const { return c.q.data() + qi(b, h, i); }
  const double* g(int64_t b, int64_t h, int64_t i) const { return c.grad_out.data() + qi(b, h, i); }
  const double* k(int64_t m, int64_t b, int64_t kvh, int64_t i) const {
    return c.k[m].data() + ki(b, kvh, i);
  }
  const double* v(int64_t m, int64_t b, int64_t kvh, int64_t i) const {
    return c.v[m].data() + ki(b, kvh, i);
  }
  std::vector<double> row(const std::vector<double>& x, int64_t off) const {
    return std::vector<double>(x.begin() + off, x.begin() + off + sh.D);
  }
  double lse(int64_t b, int64_t h, int64_t i) const {
    return ref.lse[static_cast<size_t>((b * sh.H + h) * sh.L + i)];
  }
  double delta(int64_t b, int64_t h, int64_t i) const {
    return naive_dot(g(b, h, i), ref.out.data() + qi(b, h, i), sh.D);
  }
  double logit(int64_t b, int64_t h, int64_t i, int64_t m, int64_t j) const {
    return c.scale * naive_dot(q(b, h, i), k(m, b, h / sh.group(), j), sh.D);
  }
  /// weight * (|dP| + |delta|): the size of ds (or dc) before its cancellation.
  double ds_size(int64_t b, int64_t h, int64_t i, int64_t m, int64_t j) const {
    const double w = std::exp(logit(b, h, i, m, j) - lse(b, h, i));
    return w * (std::abs(naive_dot(g(b, h, i), v(m, b, h / sh.group(), j), sh.D)) +
                std::abs(delta(b, h, i)));
  }
  /// max_d sum over dq_i's terms of |s ds k[d]|.
  double dq_scale(int64_t b, int64_t h, int64_t i) const {
    std::vector<double> acc(sh.D, 0.0);
    const int64_t kvh = h / sh.group();
    auto add = [&](double size, const double* key) {
      for (int64_t d = 0; d < sh.D; ++d) acc[d] += c.scale * size * std::abs(key[d]);
    };
    for (int64_t j = 0; j <= i; ++j) add(ds_size(b, h, i, 0, j), k(0, b, kvh, j));
    for (int64_t m = 1; m <= sh.t; ++m) add(ds_size(b, h, i, m, i), k(m, b, kvh, i));
    return testing::max_abs(acc);
  }
  /// max_d sum over dk_m,j's terms (heads of the group; rows i >= j for m = 0, i = j else).
  double dk_scale(int64_t b, int64_t kvh, int64_t j, int64_t m, int64_t n) const {
    std::vector<double> acc(sh.D, 0.0);
    for (int64_t h = kvh * sh.group(); h < (kvh + 1) * sh.group(); ++h)
      for (int64_t i = j; i < (m == 0 ? n : j + 1); ++i) {
        const double size = ds_size(b, h, i, m, j);
        for (int64_t d = 0; d < sh.D; ++d) acc[d] += c.scale * size * std::abs(q(b, h, i)[d]);
      }
    return testing::max_abs(acc);
  }
};

/// The rows the tests visit for batch element b: 0, the tile boundaries around the first
/// diagonal tiles, the last valid row, the first invalid row and L - 1.
std::vector<int64_t> rows_of_interest(int64_t n, int64_t L, int64_t tile) {
  std::set<int64_t> rows = {0, tile - 1, tile, 2 * tile - 1, n - 1, n, L - 1};
  std::vector<int64_t> out;
  for (int64_t i : rows)
    if (i >= 0 && i < L) out.push_back(i);
  return out;
}

class RowReference : public ::testing::TestWithParam<RowParam> {};

TEST_P(RowReference, QueryRowsEqualTheStructuredReference) {
  const RowParam& p = GetParam();
  const TttShape& sh = p.shape;
  const TttCase c = TttCase::random(sh, p.valid_len, 0x70u + sh.L);
  const TttInputs in = c.inputs();
  StructuredOptions opt;
  opt.tile = p.tile;
  const TttResult ref = structured_reference(in, opt);
  const Naive nv{c, ref, sh};
  const int64_t D = sh.D, t = sh.t;
  int64_t valid_checked = 0, invalid_checked = 0;

  for (int64_t b = 0; b < sh.B; ++b) {
    const int64_t n = valid_rows(in, b);
    for (int64_t h = 0; h < sh.H; ++h)
      for (int64_t i : rows_of_interest(n, sh.L, p.tile)) {
        SCOPED_TRACE("b " + std::to_string(b) + " h " + std::to_string(h) + " i " +
                     std::to_string(i) + " (n " + std::to_string(n) + ")");
        const QueryRow r = query_row(in, b, h, i);
        EXPECT_EQ(r.valid_rows, n);
        ASSERT_EQ(r.out.size(), static_cast<size_t>(D));
        ASSERT_EQ(r.dq.size(), static_cast<size_t>(D));
        ASSERT_EQ(r.singleton_logit.size(), static_cast<size_t>(t));
        ASSERT_EQ(r.singleton_weight.size(), static_cast<size_t>(t));
        ASSERT_EQ(r.dk_singleton.size(), static_cast<size_t>(t));
        ASSERT_EQ(r.dv_singleton.size(), static_cast<size_t>(t));
        if (i >= n) {
          ++invalid_checked;
          EXPECT_FALSE(r.valid);
          EXPECT_TRUE(all_zero(r.out) && all_zero(r.dq));
          EXPECT_EQ(r.lse, 0.0);
          EXPECT_EQ(r.delta, 0.0);
          EXPECT_EQ(r.max_weight0_key, -1);
          EXPECT_TRUE(all_zero(r.singleton_weight) && all_zero(r.singleton_logit));
          for (int64_t m = 0; m < t; ++m)
            EXPECT_TRUE(all_zero(r.dk_singleton[m]) && all_zero(r.dv_singleton[m]));
          continue;
        }
        ++valid_checked;
        EXPECT_TRUE(r.valid);
        const std::vector<double> out = nv.row(ref.out, nv.qi(b, h, i));
        const std::vector<double> dq = nv.row(ref.dq, nv.qi(b, h, i));
        const double lse = nv.lse(b, h, i);
        ASSERT_GT(testing::max_abs(out), 0.0);
        EXPECT_LE(rel_err(r.out, out), kTol);
        EXPECT_LE(rel(r.lse, lse), kTol);
        const double dq_scale = nv.dq_scale(b, h, i);
        ASSERT_GT(dq_scale, 0.0);
        EXPECT_LE(max_diff(r.dq, dq), kTol * dq_scale);
        // One key of weight 1 (row 0 at t = 0): dq_0 = s (g.v0 - g.out) k0 is exactly 0 here.
        if (t == 0 && i == 0) {
          EXPECT_TRUE(all_zero(r.dq));
        }
        EXPECT_LE(rel(r.delta, nv.delta(b, h, i)), kTol);

        // Context, from plain loops over the inputs.
        double best = -INFINITY;
        int64_t best_j = -1;
        for (int64_t j = 0; j <= i; ++j)
          if (nv.logit(b, h, i, 0, j) > best) best = nv.logit(b, h, i, 0, j), best_j = j;
        double top = best;
        for (int64_t m = 1; m <= t; ++m) {
          const double cm = nv.logit(b, h, i, m, i);
          top = std::max(top, cm);
          EXPECT_LE(rel(r.singleton_logit[m - 1], cm), kTol) << "c_i" << m;
          EXPECT_LE(rel(r.singleton_weight[m - 1], std::exp(cm - lse)), kTol) << "pi_i" << m;
          // This head's contributions to row i of dk_m, dv_m: s dc q_i and pi g_i.
          const double pi = std::exp(cm - lse);
          const double dc =
              pi * (naive_dot(nv.g(b, h, i), nv.v(m, b, h / sh.group(), i), D) - nv.delta(b, h, i));
          std::vector<double> dk(D), dv(D), dk_size(D);
          for (int64_t d = 0; d < D; ++d) {
            dk[d] = c.scale * dc * nv.q(b, h, i)[d];
            dv[d] = pi * nv.g(b, h, i)[d];
            dk_size[d] = c.scale * nv.ds_size(b, h, i, m, i) * std::abs(nv.q(b, h, i)[d]);
          }
          EXPECT_LE(max_diff(r.dk_singleton[m - 1], dk), kTol * testing::max_abs(dk_size))
              << "dk contribution " << m;
          EXPECT_LE(rel_err(r.dv_singleton[m - 1], dv), kTol) << "dv contribution " << m;
        }
        EXPECT_LE(rel(r.max_logit, top), kTol);
        EXPECT_EQ(r.max_weight0_key, best_j);
        EXPECT_LE(rel(r.max_weight0, std::exp(best - lse)), kTol);
      }
  }
  EXPECT_GT(valid_checked, 0);
  EXPECT_GT(invalid_checked, 0);
}

TEST_P(RowReference, KvRowsEqualTheStructuredReference) {
  const RowParam& p = GetParam();
  const TttShape& sh = p.shape;
  const TttCase c = TttCase::random(sh, p.valid_len, 0x71u + sh.L);
  const TttInputs in = c.inputs();
  StructuredOptions opt;
  opt.tile = p.tile;
  const TttResult ref = structured_reference(in, opt);
  const Naive nv{c, ref, sh};
  const int64_t D = sh.D, t = sh.t;
  int64_t valid_checked = 0;

  for (int64_t b = 0; b < sh.B; ++b) {
    const int64_t n = valid_rows(in, b);
    for (int64_t kvh = 0; kvh < sh.Hkv; ++kvh)
      for (int64_t j : rows_of_interest(n, sh.L, p.tile)) {
        SCOPED_TRACE("b " + std::to_string(b) + " kvh " + std::to_string(kvh) + " row " +
                     std::to_string(j) + " (n " + std::to_string(n) + ")");
        const KeyRow k = key_row(in, b, kvh, j, 3);
        const SingletonKvRow s = singleton_kv_row(in, b, kvh, j);
        ASSERT_EQ(k.dk.size(), static_cast<size_t>(D));
        ASSERT_EQ(k.dv.size(), static_cast<size_t>(D));
        ASSERT_EQ(s.dk.size(), static_cast<size_t>(t));
        ASSERT_EQ(s.dv.size(), static_cast<size_t>(t));
        EXPECT_EQ(k.valid, j < n);
        EXPECT_EQ(s.valid, j < n);
        if (j >= n) {
          EXPECT_TRUE(all_zero(k.dk) && all_zero(k.dv));
          EXPECT_EQ(k.rows, 0);
          for (int64_t m = 0; m < t; ++m) EXPECT_TRUE(all_zero(s.dk[m]) && all_zero(s.dv[m]));
          // The structured reference has zeros there too.
          for (int64_t m = 0; m <= t; ++m) {
            EXPECT_TRUE(all_zero(nv.row(ref.dk[m], nv.ki(b, kvh, j))));
            EXPECT_TRUE(all_zero(nv.row(ref.dv[m], nv.ki(b, kvh, j))));
          }
          continue;
        }
        ++valid_checked;
        EXPECT_EQ(k.rows, sh.group() * (n - j));
        const std::vector<double> dk0 = nv.row(ref.dk[0], nv.ki(b, kvh, j));
        const std::vector<double> dv0 = nv.row(ref.dv[0], nv.ki(b, kvh, j));
        ASSERT_GT(testing::max_abs(dv0), 0.0);
        EXPECT_LE(max_diff(k.dk, dk0), kTol * nv.dk_scale(b, kvh, j, 0, n)) << "dk0";
        EXPECT_LE(rel_err(k.dv, dv0), kTol) << "dv0";
        // The thread count does not change a bit.
        const KeyRow one = key_row(in, b, kvh, j, 1);
        EXPECT_TRUE(testing::same_bits(one.dk, k.dk));
        EXPECT_TRUE(testing::same_bits(one.dv, k.dv));

        for (int64_t m = 1; m <= t; ++m) {
          const std::vector<double> dkm = nv.row(ref.dk[m], nv.ki(b, kvh, j));
          const std::vector<double> dvm = nv.row(ref.dv[m], nv.ki(b, kvh, j));
          ASSERT_GT(testing::max_abs(dvm), 0.0);
          EXPECT_LE(max_diff(s.dk[m - 1], dkm), kTol * nv.dk_scale(b, kvh, j, m, n)) << "dk" << m;
          EXPECT_LE(rel_err(s.dv[m - 1], dvm), kTol) << "dv" << m;
          // The sum over the group's heads of query_row's per-head contributions, in head order.
          std::vector<double> dk(D, 0.0), dv(D, 0.0);
          for (int64_t h = kvh * sh.group(); h < (kvh + 1) * sh.group(); ++h) {
            const QueryRow q = query_row(in, b, h, j);
            for (int64_t d = 0; d < D; ++d) {
              dk[d] += q.dk_singleton[m - 1][d];
              dv[d] += q.dv_singleton[m - 1][d];
            }
          }
          EXPECT_TRUE(testing::same_bits(s.dk[m - 1], dk));
          EXPECT_TRUE(testing::same_bits(s.dv[m - 1], dv));
        }
      }
  }
  EXPECT_GT(valid_checked, 0);
}

INSTANTIATE_TEST_SUITE_P(Shapes, RowReference,
                         ::testing::Values(
                             // GQA 4:2, t = 6, padded: n = 31 and 14, tiles of 8.
                             RowParam{"gqa4x2_t6_pad", shape(2, 4, 2, 37, 16, 6), {37, 20}, 8},
                             // GQA 6:2, t = 0 (no singletons), a sequence without a valid row.
                             RowParam{"gqa6x2_t0_empty", shape(2, 6, 2, 29, 12, 0), {29, 0}, 8},
                             // MQA, B = 1, t = 3, D = 64: n = 37, tiles of 16.
                             RowParam{"mqa3x1_t3_D64", shape(1, 3, 1, 40, 64, 3), {40}, 16}),
                         [](const ::testing::TestParamInfo<RowParam>& info) {
                           return info.param.name;
                         });

TEST(RowReference, WithoutGradOutTheForwardIsTheSameAndGradientsAreZero) {
  const TttCase c = TttCase::random(shape(1, 2, 1, 20, 8, 2), {20}, 5);
  const QueryRow full = query_row(c.inputs(true), 0, 1, 11);
  const QueryRow fwd = query_row(c.inputs(false), 0, 1, 11);
  ASSERT_TRUE(fwd.valid);
  EXPECT_TRUE(testing::same_bits(fwd.out, full.out));
  EXPECT_EQ(fwd.lse, full.lse);
  EXPECT_TRUE(all_zero(fwd.dq));
  EXPECT_GT(testing::max_abs(full.dq), 0.0);
  EXPECT_EQ(fwd.delta, 0.0);
  const KeyRow k = key_row(c.inputs(false), 0, 0, 3);
  EXPECT_TRUE(k.valid);
  EXPECT_TRUE(all_zero(k.dk) && all_zero(k.dv));
  const SingletonKvRow s = singleton_kv_row(c.inputs(false), 0, 0, 3);
  EXPECT_TRUE(s.valid);
  EXPECT_TRUE(all_zero(s.dk[0]) && all_zero(s.dv[1]));
}

/// `call` throws std::invalid_argument whose message contains every part of `parts`.
void expect_rejected(const std::function<void()>& call, const std::vector<std::string>& parts) {
  try {
    call();
    ADD_FAILURE() << "no exception; expected one mentioning " << parts.front();
  } catch (const std::invalid_argument& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message: " << e.what() << "\nmissing: " << part;
  }
}

TEST(RowReference, OutOfRangeIndicesAreRejectedWithTheirRange) {
  const TttCase c = TttCase::random(shape(2, 4, 2, 10, 4, 1), {10, 6}, 5);
  const TttInputs in = c.inputs();
  expect_rejected([&] { query_row(in, 2, 0, 0); }, {"query_row", "b = 2", "[0, 2)"});
  expect_rejected([&] { query_row(in, 0, 4, 0); }, {"query_row", "h = 4", "[0, 4)"});
  expect_rejected([&] { query_row(in, 0, -1, 0); }, {"h = -1", "query head"});
  expect_rejected([&] { query_row(in, 0, 0, 10); }, {"i = 10", "[0, 10)"});
  expect_rejected([&] { singleton_kv_row(in, 0, 2, 0); }, {"singleton_kv_row", "kvh = 2"});
  expect_rejected([&] { singleton_kv_row(in, 0, 0, -3); }, {"i = -3"});
  expect_rejected([&] { key_row(in, 0, 0, 10); }, {"key_row", "j = 10", "[0, 10)"});
  expect_rejected([&] { key_row(in, -1, 0, 0); }, {"b = -1"});
  expect_rejected([&] { key_row(in, 0, 0, 0, -2); }, {"threads = -2"});
  TttInputs bad = in;
  bad.scale = 0.0;  // validate() runs first
  expect_rejected([&] { query_row(bad, 0, 0, 0); }, {"scale"});
  expect_rejected([&] { key_row(bad, 0, 0, 0); }, {"scale"});
  // In range but invalid rows are answered, not rejected: row 9 of b = 1 (5 valid rows).
  EXPECT_FALSE(query_row(in, 1, 3, 9).valid);
  EXPECT_FALSE(key_row(in, 1, 1, 9).valid);
}

}  // namespace
}  // namespace attn::ref

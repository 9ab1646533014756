// Structured TTT form; structured_reference.hpp states the contract and the two schedules.
//
// Tiling: valid rows [0, n) of a batch element are cut at multiples of `tile`, and keys at the
// same boundaries, so query tile i meets key tiles j <= i, key tile i being its diagonal tile.
// A (query tile, key tile) pair is one [r x c] block of scores, P, dP and dS.
//
// Why every schedule and thread count gives the same bits:
// - Each output element is written by exactly one unit, and what a unit computes depends only
//   on the inputs and on values other units computed the same way, never on which thread runs
//   it or when.
// - What the schedules compute in different units goes through the same functions on the same
//   operands in the same shapes: the scores and dP of a pair are always their own [r x c] GEMM
//   (never a slice of a larger product, whose rounding could depend on where the slice falls in
//   Eigen's register blocks); P = exp(S - max) / sum with the row's max and sum; dS = P (dP -
//   delta); singleton logits and weights by the same dot products and std::exp.
// - Accumulations run in one fixed order: dk0, dv0 of a key tile over (query head of the group,
//   query tile) ascending, one GEMM per pair; dk_m, dv_m (m >= 1) of a row over the group's
//   heads ascending; out and dq of a query tile are single products in phase A.
// - Nothing depends on addresses: every product goes through Eigen's GEMM, which packs its
//   operands first (EIGEN_GEMM_TO_COEFFBASED_THRESHOLD=0 in CMakeLists.txt keeps small products
//   off the coefficient-based path that peels to the destination's alignment); exp runs on whole
//   SIMD packets lane by lane (a tail is padded into a local packet), sums and dot products keep
//   eight partial sums by index mod 8, and the library is built with -ffp-contract=off, so
//   vectorised and scalar loops round alike.
#include "references/structured_reference.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <functional>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <string>
#include <vector>

namespace attn::ref {

namespace {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<Mat>;
using ConstMap = Eigen::Map<const Mat>;
using Stride = Eigen::OuterStride<>;
using In = Eigen::Ref<const Mat, 0, Stride>;
using Out = Eigen::Ref<Mat, 0, Stride>;

// ---- Kernels every schedule shares. Not inlined: one compiled body per operation.

/// S = s Q K^T for one (query tile, key tile) pair: [r x c].
EIGEN_DONT_INLINE void pair_scores(Out S, const In& Q, const In& K, double s) {
  S.noalias() = (s * Q) * K.transpose();
}

/// dP = G V^T for one pair: [r x c].
EIGEN_DONT_INLINE void pair_dprobs(Out dP, const In& G, const In& V) {
  dP.noalias() = G * V.transpose();
}

/// dK += s dS^T Q and dV += P^T G for one pair: dK, dV are the key tile's [c x D] rows.
EIGEN_DONT_INLINE void pair_kv_grads(Out dK, Out dV, const In& dS, const In& P, const In& Q,
                                     const In& G, double s) {
  dK.noalias() += (s * dS.transpose()) * Q;
  dV.noalias() += P.transpose() * G;
}

using Packet = Eigen::internal::packet_traits<double>::type;
constexpr int kLanes = Eigen::internal::packet_traits<double>::size;

/// x[k] = exp(x[k] - shift) for k < n. Every element goes through the same SIMD code in its own
/// lane, so its value does not depend on its position or on n.
EIGEN_DONT_INLINE void exp_shifted(double* x, int64_t n, double shift) {
  namespace ei = Eigen::internal;
  const Packet sh = ei::pset1<Packet>(shift);
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    ei::pstoreu(x + k, ei::pexp(ei::psub(ei::ploadu<Packet>(x + k), sh)));
  if (k < n) {
    double buf[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) buf[l] = k + l < n ? x[k + l] : shift;
    ei::pstoreu(buf, ei::pexp(ei::psub(ei::ploadu<Packet>(buf), sh)));
    for (int64_t l = 0; k + l < n; ++l) x[k + l] = buf[l];
  }
}

/// Fixed-order reductions: eight partial sums by index mod 8, combined pairwise.
inline double combine8(const double* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

double sum(const double* x, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) a[l] += x[k + l];
  for (int l = 0; k + l < n; ++l) a[l] += x[k + l];
  return combine8(a);
}

double dot(const double* x, const double* y, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) a[l] += x[k + l] * y[k + l];
  for (int l = 0; k + l < n; ++l) a[l] += x[k + l] * y[k + l];
  return combine8(a);
}

/// y[d] += alpha * x[d] (element by element: no order to fix).
inline void axpy(double alpha, const double* x, double* y, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

inline double max_of(const double* x, int64_t n) {
  double m = x[0];
  for (int64_t k = 1; k < n; ++k) m = std::max(m, x[k]);
  return m;
}

/// A row of P from its scores: p[k] = exp(p[k] - row_max) / row_sum for k < keys, 0 up to width.
/// (The forward computes exp first and divides once the sum is known: the same operations.)
inline void probs_row(double* p, int64_t keys, int64_t width, double row_max, double row_sum) {
  exp_shifted(p, keys, row_max);
  std::fill(p + keys, p + width, 0.0);
  for (int64_t k = 0; k < keys; ++k) p[k] /= row_sum;
}

/// A row of dS from dP in place: ds[k] = p[k] (ds[k] - delta) for k < keys, 0 up to width.
inline void dscores_row(double* ds, const double* p, int64_t keys, int64_t width, double delta) {
  for (int64_t k = 0; k < keys; ++k) ds[k] = p[k] * (ds[k] - delta);
  std::fill(ds + keys, ds + width, 0.0);
}

/// Singleton m of a row: weight pi = exp(c - row_max) / row_sum and dc = pi (g.v_m - delta).
inline double singleton_weight(double logit, double row_max, double row_sum) {
  return std::exp(logit - row_max) / row_sum;
}
inline double singleton_dc(double pi, const double* g, const double* vm, int64_t D, double delta) {
  return pi * (dot(g, vm, D) - delta);
}

// ---- The problem and per-thread working memory.

struct Problem {
  const TttInputs& in;
  TttResult& res;
  const TttShape& sh;
  int64_t tile;
  bool backward;
  std::vector<int64_t> n;  ///< valid rows per batch element
  /// Row statistics [B, H, L] the split schedule's phase B reads: max logit, softmax sum
  /// (P = exp(S - max) / sum), delta = g.out. Empty under the fused schedule.
  std::vector<double> row_max, row_sum, row_delta;

  Problem(const TttInputs& in_, TttResult& res_, int64_t tile_)
      : in(in_), res(res_), sh(in_.shape), tile(tile_), backward(in_.grad_out != nullptr) {
    for (int64_t b = 0; b < sh.B; ++b) n.push_back(valid_rows(in, b));
  }
  int64_t q_off(int64_t b, int64_t h) const { return (b * sh.H + h) * sh.L * sh.D; }
  int64_t kv_off(int64_t b, int64_t kvh) const { return (b * sh.Hkv + kvh) * sh.L * sh.D; }
  int64_t row_off(int64_t b, int64_t h) const { return (b * sh.H + h) * sh.L; }
  int64_t tiles(int64_t b) const { return (n[static_cast<size_t>(b)] + tile - 1) / tile; }
  const double* k(int64_t m, int64_t b, int64_t kvh, int64_t i) const {
    return in.k[static_cast<size_t>(m)] + kv_off(b, kvh) + i * sh.D;
  }
  const double* v(int64_t m, int64_t b, int64_t kvh, int64_t i) const {
    return in.v[static_cast<size_t>(m)] + kv_off(b, kvh) + i * sh.D;
  }
  double* dk(int64_t m, int64_t b, int64_t kvh, int64_t i) const {
    return res.dk[static_cast<size_t>(m)].data() + kv_off(b, kvh) + i * sh.D;
  }
  double* dv(int64_t m, int64_t b, int64_t kvh, int64_t i) const {
    return res.dv[static_cast<size_t>(m)].data() + kv_off(b, kvh) + i * sh.D;
  }
};

/// Per-thread working memory: two [r, width] buffers (width <= L) and the singletons of a
/// tile. Eigen leaves it uninitialised, so pages are only touched as far as tiles reach.
struct Scratch {
  Eigen::VectorXd p;   ///< scores, then P
  Eigen::VectorXd ds;  ///< dP, then dS
  Mat c, pi, dc;       ///< singleton logits, weights, gradients: [tile, t]

  void reserve(int64_t elements, int64_t tile, int64_t t) {
    if (p.size() < elements) {
      p.resize(elements);
      ds.resize(elements);
    }
    if (c.rows() < tile) {
      c.resize(tile, std::max<int64_t>(t, 1));
      pi.resize(tile, std::max<int64_t>(t, 1));
      dc.resize(tile, std::max<int64_t>(t, 1));
    }
  }
};

// ---- Work units.

/// Query tile `it` of (b, h): scores against key tiles 0..it and the singletons, lse, out, and
/// with a backward delta, dS and dq. Leaves P and dS ([r, i1]) and the tile's singleton weights
/// and gradients in `ws` for the fused schedule; stores the row statistics when the problem
/// keeps them.
void query_tile(Problem& pb, int64_t b, int64_t h, int64_t it, Scratch& ws) {
  const TttShape& sh = pb.sh;
  const TttInputs& in = pb.in;
  const int64_t D = sh.D, t = sh.t, n = pb.n[static_cast<size_t>(b)], tile = pb.tile;
  const int64_t i0 = it * tile, r = std::min(tile, n - i0), i1 = i0 + r;
  const int64_t kvh = h / sh.group();
  const double s = in.scale;
  const int64_t qo = pb.q_off(b, h), kvo = pb.kv_off(b, kvh), ro = pb.row_off(b, h);

  const ConstMap Q(in.q + qo, n, D), K0(in.k[0] + kvo, n, D), V0(in.v[0] + kvo, n, D);
  const auto Qt = Q.middleRows(i0, r);
  ws.reserve(r * i1, tile, t);
  Map P(ws.p.data(), r, i1);
  auto C = [&](int64_t ii, int64_t m) -> double& { return ws.c(ii, m - 1); };
  auto Pi = [&](int64_t ii, int64_t m) -> double& { return ws.pi(ii, m - 1); };
  auto dC = [&](int64_t ii, int64_t m) -> double& { return ws.dc(ii, m - 1); };
  const bool keep = !pb.row_max.empty();

  // Scores, one GEMM per key tile; then per row the softmax over its keys [0, i] and the t
  // singletons, with max subtraction.
  for (int64_t j0 = 0; j0 < i1; j0 += tile)
    pair_scores(P.middleCols(j0, std::min(tile, i1 - j0)), Qt,
                K0.middleRows(j0, std::min(tile, i1 - j0)), s);
  double* lse = pb.res.lse.data() + ro;
  for (int64_t ii = 0; ii < r; ++ii) {
    const int64_t i = i0 + ii, keys = i + 1;
    double* row = P.row(ii).data();
    double mx = max_of(row, keys);
    for (int64_t m = 1; m <= t; ++m) {
      C(ii, m) = s * dot(Q.row(i).data(), pb.k(m, b, kvh, i), D);
      mx = std::max(mx, C(ii, m));
    }
    exp_shifted(row, keys, mx);
    std::fill(row + keys, row + i1, 0.0);
    double z = sum(row, keys);
    for (int64_t m = 1; m <= t; ++m) {
      Pi(ii, m) = std::exp(C(ii, m) - mx);
      z += Pi(ii, m);
    }
    for (int64_t k = 0; k < keys; ++k) row[k] /= z;
    for (int64_t m = 1; m <= t; ++m) Pi(ii, m) /= z;
    lse[i] = mx + std::log(z);
    if (keep) {
      pb.row_max[static_cast<size_t>(ro + i)] = mx;
      pb.row_sum[static_cast<size_t>(ro + i)] = z;
    }
  }

  // out = P V0 + sum_m pi_m v_m.
  Map O(pb.res.out.data() + qo, n, D);
  auto Ot = O.middleRows(i0, r);
  Ot.noalias() = P * V0.topRows(i1);
  for (int64_t ii = 0; ii < r; ++ii)
    for (int64_t m = 1; m <= t; ++m)
      axpy(Pi(ii, m), pb.v(m, b, kvh, i0 + ii), Ot.row(ii).data(), D);

  if (!pb.backward) return;

  // delta, the singletons' gradients, dS and dq of the tile.
  const ConstMap G(in.grad_out + qo, n, D);
  const auto Gt = G.middleRows(i0, r);
  Map dS(ws.ds.data(), r, i1);
  for (int64_t j0 = 0; j0 < i1; j0 += tile)
    pair_dprobs(dS.middleCols(j0, std::min(tile, i1 - j0)), Gt,
                V0.middleRows(j0, std::min(tile, i1 - j0)));
  for (int64_t ii = 0; ii < r; ++ii) {
    const int64_t i = i0 + ii;
    const double* g = Gt.row(ii).data();
    const double delta = dot(g, Ot.row(ii).data(), D);
    if (keep) pb.row_delta[static_cast<size_t>(ro + i)] = delta;
    for (int64_t m = 1; m <= t; ++m)
      dC(ii, m) = singleton_dc(Pi(ii, m), g, pb.v(m, b, kvh, i), D, delta);
    dscores_row(dS.row(ii).data(), P.row(ii).data(), i + 1, i1, delta);
  }
  Map dQ(pb.res.dq.data() + qo, n, D);
  auto dQt = dQ.middleRows(i0, r);
  dQt.noalias() = (s * dS) * K0.topRows(i1);
  for (int64_t ii = 0; ii < r; ++ii)
    for (int64_t m = 1; m <= t; ++m)
      axpy(s * dC(ii, m), pb.k(m, b, kvh, i0 + ii), dQt.row(ii).data(), D);
}

/// Fused unit (b, kv head): every query tile of every head of the group through query_tile,
/// and at once that tile's share of the group's kv gradients.
void fused_unit(Problem& pb, int64_t b, int64_t kvh, Scratch& ws) {
  const TttShape& sh = pb.sh;
  const TttInputs& in = pb.in;
  const int64_t D = sh.D, t = sh.t, n = pb.n[static_cast<size_t>(b)], tile = pb.tile;
  const double s = in.scale;
  const int64_t kvo = pb.kv_off(b, kvh);
  Map dK0(pb.res.dk[0].data() + kvo, n, D), dV0(pb.res.dv[0].data() + kvo, n, D);
  for (int64_t m = 0; m <= t; ++m) {
    std::fill_n(pb.dk(m, b, kvh, 0), n * D, 0.0);
    std::fill_n(pb.dv(m, b, kvh, 0), n * D, 0.0);
  }
  for (int64_t h = kvh * sh.group(); h < (kvh + 1) * sh.group(); ++h) {
    const int64_t qo = pb.q_off(b, h);
    const ConstMap Q(in.q + qo, n, D), G(in.grad_out + qo, n, D);
    for (int64_t it = 0; it < pb.tiles(b); ++it) {
      query_tile(pb, b, h, it, ws);
      const int64_t i0 = it * tile, r = std::min(tile, n - i0), i1 = i0 + r;
      const Map P(ws.p.data(), r, i1), dS(ws.ds.data(), r, i1);
      const auto Qt = Q.middleRows(i0, r), Gt = G.middleRows(i0, r);
      for (int64_t j0 = 0; j0 < i1; j0 += tile) {
        const int64_t c = std::min(tile, i1 - j0);
        pair_kv_grads(dK0.middleRows(j0, c), dV0.middleRows(j0, c), dS.middleCols(j0, c),
                      P.middleCols(j0, c), Qt, Gt, s);
      }
      for (int64_t ii = 0; ii < r; ++ii)
        for (int64_t m = 1; m <= t; ++m) {
          axpy(s * ws.dc(ii, m - 1), Qt.row(ii).data(), pb.dk(m, b, kvh, i0 + ii), D);
          axpy(ws.pi(ii, m - 1), Gt.row(ii).data(), pb.dv(m, b, kvh, i0 + ii), D);
        }
    }
  }
}

/// Phase B unit (b, kv head, key tile jt): dk0, dv0 of the tile's keys from every query tile
/// it >= jt of every head of the group, P and dP recomputed from the stored row statistics;
/// then dk_m, dv_m (m >= 1) of the tile's rows.
void key_tile(Problem& pb, int64_t b, int64_t kvh, int64_t jt, Scratch& ws) {
  const TttShape& sh = pb.sh;
  const TttInputs& in = pb.in;
  const int64_t D = sh.D, t = sh.t, n = pb.n[static_cast<size_t>(b)], tile = pb.tile;
  const int64_t j0 = jt * tile, c = std::min(tile, n - j0);
  const double s = in.scale;
  const int64_t kvo = pb.kv_off(b, kvh);
  const ConstMap K0(in.k[0] + kvo, n, D), V0(in.v[0] + kvo, n, D);
  const auto K0t = K0.middleRows(j0, c), V0t = V0.middleRows(j0, c);
  Map dK0t(pb.dk(0, b, kvh, j0), c, D), dV0t(pb.dv(0, b, kvh, j0), c, D);
  for (int64_t m = 0; m <= t; ++m) {
    std::fill_n(pb.dk(m, b, kvh, j0), c * D, 0.0);
    std::fill_n(pb.dv(m, b, kvh, j0), c * D, 0.0);
  }
  ws.reserve(tile * tile, tile, t);
  for (int64_t h = kvh * sh.group(); h < (kvh + 1) * sh.group(); ++h) {
    const int64_t qo = pb.q_off(b, h), ro = pb.row_off(b, h);
    const ConstMap Q(in.q + qo, n, D), G(in.grad_out + qo, n, D);
    const double* mx = pb.row_max.data() + ro;
    const double* z = pb.row_sum.data() + ro;
    const double* delta = pb.row_delta.data() + ro;
    for (int64_t i0 = j0; i0 < n; i0 += tile) {
      const int64_t r = std::min(tile, n - i0);
      const auto Qt = Q.middleRows(i0, r), Gt = G.middleRows(i0, r);
      Map P(ws.p.data(), r, c), dS(ws.ds.data(), r, c);
      pair_scores(P, Qt, K0t, s);
      pair_dprobs(dS, Gt, V0t);
      for (int64_t ii = 0; ii < r; ++ii) {
        const int64_t i = i0 + ii, keys = std::min(c, i - j0 + 1);
        probs_row(P.row(ii).data(), keys, c, mx[i], z[i]);
        dscores_row(dS.row(ii).data(), P.row(ii).data(), keys, c, delta[i]);
      }
      pair_kv_grads(dK0t, dV0t, dS, P, Qt, Gt, s);
    }
    for (int64_t i = j0; i < j0 + c; ++i) {
      const double* q = Q.row(i).data();
      const double* g = G.row(i).data();
      for (int64_t m = 1; m <= t; ++m) {
        const double logit = s * dot(q, pb.k(m, b, kvh, i), D);
        const double pi = singleton_weight(logit, mx[i], z[i]);
        const double dc = singleton_dc(pi, g, pb.v(m, b, kvh, i), D, delta[i]);
        axpy(s * dc, q, pb.dk(m, b, kvh, i), D);
        axpy(pi, g, pb.dv(m, b, kvh, i), D);
      }
    }
  }
}

/// Zeroes what no unit writes: rows [n, L) of every tensor, and all gradients without a
/// backward. Units write rows [0, n) completely.
void zero_rest(const Problem& pb, int64_t item) {
  const TttShape& sh = pb.sh;
  const int64_t L = sh.L, D = sh.D;
  if (item < sh.B * sh.H) {
    const int64_t b = item / sh.H, h = item % sh.H, n = pb.n[static_cast<size_t>(b)];
    const int64_t first = pb.backward ? n : 0;
    std::fill_n(pb.res.out.data() + pb.q_off(b, h) + n * D, (L - n) * D, 0.0);
    std::fill_n(pb.res.dq.data() + pb.q_off(b, h) + first * D, (L - first) * D, 0.0);
    std::fill_n(pb.res.lse.data() + pb.row_off(b, h) + n, L - n, 0.0);
  } else {
    item -= sh.B * sh.H;
    const int64_t b = item / sh.Hkv, kvh = item % sh.Hkv;
    const int64_t first = pb.backward ? pb.n[static_cast<size_t>(b)] : 0;
    for (int64_t m = 0; m <= sh.t; ++m) {
      std::fill_n(pb.dk(m, b, kvh, first), (L - first) * D, 0.0);
      std::fill_n(pb.dv(m, b, kvh, first), (L - first) * D, 0.0);
    }
  }
}

// ---- Scheduling.

/// Work below which the OpenMP default thread count is reduced (see structured_reference_into).
constexpr double kMinFlopsPerThread = 4e6;

enum class UnitKind { query_tile, key_tile, fused };

struct Unit {
  int64_t b, head, tile;  ///< head: query head (query_tile) or kv head; tile: its index
  double cost;            ///< tile products x (rows x keys), for ordering and the estimate
};

/// Units of one kind, largest first (a stable order: ties keep the enumeration order).
std::vector<Unit> make_units(const Problem& pb, UnitKind kind) {
  const TttShape& sh = pb.sh;
  const double G = static_cast<double>(sh.group());
  std::vector<Unit> units;
  for (int64_t b = 0; b < sh.B; ++b) {
    const int64_t n = pb.n[static_cast<size_t>(b)], tile = pb.tile;
    if (n == 0) continue;
    if (kind == UnitKind::query_tile) {
      for (int64_t h = 0; h < sh.H; ++h)
        for (int64_t it = 0; it < pb.tiles(b); ++it) {
          const double r = static_cast<double>(std::min(tile, n - it * tile));
          const double i1 = static_cast<double>(std::min(n, (it + 1) * tile));
          units.push_back({b, h, it, (pb.backward ? 4.0 : 2.0) * r * i1});
        }
    } else {
      for (int64_t kvh = 0; kvh < sh.Hkv; ++kvh) {
        if (kind == UnitKind::key_tile) {
          for (int64_t jt = 0; jt < pb.tiles(b); ++jt) {
            const double c = static_cast<double>(std::min(tile, n - jt * tile));
            units.push_back({b, kvh, jt, 4.0 * G * c * static_cast<double>(n - jt * tile)});
          }
        } else {
          double pairs = 0.0;
          for (int64_t it = 0; it < pb.tiles(b); ++it)
            pairs += static_cast<double>(std::min(tile, n - it * tile)) *
                     static_cast<double>(std::min(n, (it + 1) * tile));
          units.push_back({b, kvh, 0, 6.0 * G * pairs});
        }
      }
    }
  }
  std::stable_sort(units.begin(), units.end(),
                   [](const Unit& x, const Unit& y) { return x.cost > y.cost; });
  return units;
}

/// Wall time of largest-first greedy scheduling of `units` (sorted) on `threads` threads.
double makespan(const std::vector<Unit>& units, int threads) {
  std::priority_queue<double, std::vector<double>, std::greater<double>> load;
  for (int i = 0; i < threads; ++i) load.push(0.0);
  double worst = 0.0;
  for (const Unit& u : units) {
    const double l = load.top() + u.cost;
    load.pop();
    load.push(l);
    worst = std::max(worst, l);
  }
  return worst;
}

struct Phase {
  UnitKind kind;
  std::vector<Unit> units;
};

void check_result_shape(const TttShape& sh, const TttResult& res) {
  auto bad = [](const std::string& field, int64_t expected, size_t found) {
    throw std::invalid_argument("structured_reference_into: result." + field + " expected " +
                                std::to_string(expected) + " elements (TttResult::zeros), found " +
                                std::to_string(found));
  };
  if (res.out.size() != static_cast<size_t>(sh.q_numel())) bad("out", sh.q_numel(), res.out.size());
  if (res.dq.size() != static_cast<size_t>(sh.q_numel())) bad("dq", sh.q_numel(), res.dq.size());
  if (res.lse.size() != static_cast<size_t>(sh.lse_numel()))
    bad("lse", sh.lse_numel(), res.lse.size());
  if (res.dk.size() != static_cast<size_t>(sh.blocks()))
    bad("dk (blocks)", sh.blocks(), res.dk.size());
  if (res.dv.size() != static_cast<size_t>(sh.blocks()))
    bad("dv (blocks)", sh.blocks(), res.dv.size());
  for (size_t m = 0; m < res.dk.size(); ++m) {
    if (res.dk[m].size() != static_cast<size_t>(sh.kv_numel()))
      bad("dk[" + std::to_string(m) + "]", sh.kv_numel(), res.dk[m].size());
    if (res.dv[m].size() != static_cast<size_t>(sh.kv_numel()))
      bad("dv[" + std::to_string(m) + "]", sh.kv_numel(), res.dv[m].size());
  }
}

}  // namespace

void structured_reference_into(const TttInputs& in, TttResult& result,
                               const StructuredOptions& opt) {
  validate(in);
  const TttShape& sh = in.shape;
  check_result_shape(sh, result);
  if (opt.tile < 1)
    throw std::invalid_argument("StructuredOptions.tile: expected >= 1, found " +
                                std::to_string(opt.tile));
  if (opt.threads < 0)
    throw std::invalid_argument("StructuredOptions.threads: expected >= 0, found " +
                                std::to_string(opt.threads));

  Problem pb(in, result, opt.tile);
  // The OpenMP default is cut down for small problems: below about kMinFlopsPerThread per
  // thread, a team's start and barriers cost more than they save (much more when the cores are
  // shared and a spinning thread loses its time slice). The result does not depend on it.
  int requested = opt.threads;
  if (requested == 0) {
    const double flops = structured_flops(in) * (pb.backward ? 1.0 : 0.5);
    requested = static_cast<int>(
        std::max(1.0, std::min<double>(omp_get_max_threads(), flops / kMinFlopsPerThread)));
  }

  // Forward only: phase A alone. With a backward: fused, or split (phase A then phase B),
  // whichever finishes first by the greedy estimate on `requested` threads (fused does 6 tile
  // products per pair, split 4 + 4 but in many more units).
  std::vector<Phase> phases;
  if (!pb.backward) {
    phases.push_back({UnitKind::query_tile, make_units(pb, UnitKind::query_tile)});
  } else {
    StructuredSchedule schedule = opt.schedule;
    std::vector<Unit> fused = make_units(pb, UnitKind::fused);
    std::vector<Unit> a = make_units(pb, UnitKind::query_tile);
    std::vector<Unit> b = make_units(pb, UnitKind::key_tile);
    if (schedule == StructuredSchedule::automatic)
      schedule = makespan(fused, requested) <= makespan(a, requested) + makespan(b, requested)
                     ? StructuredSchedule::fused
                     : StructuredSchedule::split;
    if (schedule == StructuredSchedule::fused) {
      phases.push_back({UnitKind::fused, std::move(fused)});
    } else {
      const size_t rows = static_cast<size_t>(sh.lse_numel());
      pb.row_max.assign(rows, 0.0);
      pb.row_sum.assign(rows, 0.0);
      pb.row_delta.assign(rows, 0.0);
      phases.push_back({UnitKind::query_tile, std::move(a)});
      phases.push_back({UnitKind::key_tile, std::move(b)});
    }
  }

  int64_t total = 0, widest = 1;
  for (const Phase& p : phases) {
    total += static_cast<int64_t>(p.units.size());
    widest = std::max<int64_t>(widest, static_cast<int64_t>(p.units.size()));
  }
  const int threads = static_cast<int>(std::min<int64_t>(requested, widest));
  const int64_t zero_items = sh.B * sh.H + sh.B * sh.Hkv;
  std::atomic<int64_t> done{0};
  std::atomic<bool> abort{false};
  std::exception_ptr error;
  std::mutex error_mutex;

#pragma omp parallel num_threads(threads)
  {
    Scratch ws;
    // No barrier needed after it: the units write rows [0, n), this rows [n, L).
#pragma omp for schedule(static) nowait
    for (int64_t item = 0; item < zero_items; ++item) zero_rest(pb, item);

    for (const Phase& phase : phases) {
      const int64_t count = static_cast<int64_t>(phase.units.size());
      // The implicit barrier at the end of each loop orders phase B after phase A.
#pragma omp for schedule(dynamic, 1)
      for (int64_t k = 0; k < count; ++k) {
        if (abort.load(std::memory_order_relaxed)) continue;
        try {
          const Unit& u = phase.units[static_cast<size_t>(k)];
          switch (phase.kind) {
            case UnitKind::query_tile:
              query_tile(pb, u.b, u.head, u.tile, ws);
              break;
            case UnitKind::key_tile:
              key_tile(pb, u.b, u.head, u.tile, ws);
              break;
            case UnitKind::fused:
              fused_unit(pb, u.b, u.head, ws);
              break;
          }
          const int64_t now = done.fetch_add(1) + 1;
          // The master thread of the team is the calling thread: the only one that reports.
          if (opt.progress && omp_get_thread_num() == 0 && now < total) opt.progress(now, total);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          abort.store(true);
        }
      }
    }
  }
  if (error) std::rethrow_exception(error);
  if (opt.progress) opt.progress(total, total);
}

TttResult structured_reference(const TttInputs& in, const StructuredOptions& opt) {
  validate(in);
  TttResult result = TttResult::zeros(in.shape);
  structured_reference_into(in, result, opt);
  return result;
}

double structured_flops(const TttInputs& in) {
  validate(in);
  const TttShape& sh = in.shape;
  double flops = 0.0;
  for (int64_t b = 0; b < sh.B; ++b) {
    const double n = static_cast<double>(valid_rows(in, b));
    flops += static_cast<double>(sh.H) * 12.0 * static_cast<double>(sh.D) *
             (n * (n + 1.0) / 2.0 + n * static_cast<double>(sh.t));
  }
  return flops;
}

}  // namespace attn::ref

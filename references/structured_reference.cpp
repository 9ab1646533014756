// Structured TTT form. One work unit = (batch element, kv head): it owns that kv head's dk, dv
// and the out, lse, dq of the group's query heads, so units never write the same memory and
// need no reduction. Inside a unit, for each query head and each tile of valid rows
// [i0, i1): scores against block-0 keys [0, i1) only, singleton scores per block, LSE, P, out,
// and at once the tile's backward (row i's out and lse depend on row i only). All products are
// single-threaded Eigen GEMMs on row-major maps of the caller's buffers.
#include "references/structured_reference.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>

namespace attn::ref {

namespace {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<Mat>;
using ConstMap = Eigen::Map<const Mat>;
using Vec = Eigen::VectorXd;

/// Per-thread working memory: O(tile * L + tile * t). Eigen leaves it uninitialised, so pages
/// are only touched as far as the tiles actually used reach.
struct Scratch {
  Vec p;          ///< scores, then P, for one tile: [r, i1] contiguous
  Vec ds;         ///< dP, then dS: [r, i1] contiguous
  Mat c, pi, dc;  ///< singleton scores, probabilities, gradients: [r, t]
  Vec delta;

  void reserve(int64_t tile, int64_t L, int64_t t) {
    if (p.size() < tile * L) {
      p.resize(tile * L);
      ds.resize(tile * L);
    }
    c.resize(tile, std::max<int64_t>(t, 1));
    pi.resize(tile, std::max<int64_t>(t, 1));
    dc.resize(tile, std::max<int64_t>(t, 1));
    delta.resize(tile);
  }
};

struct Unit {
  int64_t b, kvh, n;
};

/// Zeroes what no tile writes: rows [n, L) of the unit's tensors, and all gradients when there
/// is no backward. Valid rows are assigned (out, lse, dq) or zeroed tile by tile just before
/// their first accumulation (dk, dv), while the tile is in cache.
void zero_unit_results(const TttShape& sh, const Unit& u, bool backward, TttResult& res) {
  const int64_t L = sh.L, D = sh.D, n = u.n, first = backward ? n : 0;
  const int64_t kv_off = (u.b * sh.Hkv + u.kvh) * L * D;
  for (int64_t m = 0; m < sh.blocks(); ++m) {
    std::fill_n(res.dk[static_cast<size_t>(m)].data() + kv_off + first * D, (L - first) * D, 0.0);
    std::fill_n(res.dv[static_cast<size_t>(m)].data() + kv_off + first * D, (L - first) * D, 0.0);
  }
  for (int64_t h = u.kvh * sh.group(); h < (u.kvh + 1) * sh.group(); ++h) {
    const int64_t q_off = (u.b * sh.H + h) * L * D;
    std::fill_n(res.out.data() + q_off + n * D, (L - n) * D, 0.0);
    std::fill_n(res.dq.data() + q_off + first * D, (L - first) * D, 0.0);
    std::fill_n(res.lse.data() + (u.b * sh.H + h) * L + n, L - n, 0.0);
  }
}

/// Dot product in a fixed order. Row-wise work that touches caller buffers (singletons, delta,
/// lse) uses plain loops like this one: Eigen's vectorised reductions peel to the buffer's
/// alignment, which would make the last bit depend on where the caller's memory lies.
inline double dot(const double* a, const double* b, int64_t n) {
  double acc = 0.0;
  for (int64_t d = 0; d < n; ++d) acc += a[d] * b[d];
  return acc;
}

/// y[d] += alpha * x[d].
inline void axpy(double alpha, const double* x, double* y, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

void run_unit(const TttInputs& in, const Unit& u, int64_t tile, TttResult& res, Scratch& ws) {
  const TttShape& sh = in.shape;
  const int64_t L = sh.L, D = sh.D, t = sh.t, n = u.n;
  const double s = in.scale;
  const bool backward = in.grad_out != nullptr;

  zero_unit_results(sh, u, backward, res);
  if (n == 0) return;
  ws.reserve(std::min(tile, n), L, t);

  const int64_t kv_off = (u.b * sh.Hkv + u.kvh) * L * D;
  // Only the first n rows of any cache block are ever read or written (keys j <= i < n).
  const ConstMap K0(in.k[0] + kv_off, n, D), V0(in.v[0] + kv_off, n, D);
  Map dK0(res.dk[0].data() + kv_off, n, D), dV0(res.dv[0].data() + kv_off, n, D);
  // Row i of singleton block m (m >= 1) of this kv head.
  auto krow = [&](int64_t m, int64_t i) { return in.k[static_cast<size_t>(m)] + kv_off + i * D; };
  auto vrow = [&](int64_t m, int64_t i) { return in.v[static_cast<size_t>(m)] + kv_off + i * D; };
  auto dkrow = [&](int64_t m, int64_t i) {
    return res.dk[static_cast<size_t>(m)].data() + kv_off + i * D;
  };
  auto dvrow = [&](int64_t m, int64_t i) {
    return res.dv[static_cast<size_t>(m)].data() + kv_off + i * D;
  };

  for (int64_t h = u.kvh * sh.group(); h < (u.kvh + 1) * sh.group(); ++h) {
    const int64_t q_off = (u.b * sh.H + h) * L * D;
    const ConstMap Q(in.q + q_off, n, D);
    Map O(res.out.data() + q_off, n, D), dQ(res.dq.data() + q_off, n, D);
    double* lse = res.lse.data() + (u.b * sh.H + h) * L;

    for (int64_t i0 = 0; i0 < n; i0 += tile) {
      const int64_t r = std::min(tile, n - i0), i1 = i0 + r;
      const auto Qt = Q.middleRows(i0, r);
      const auto K0t = K0.topRows(i1);
      const auto V0t = V0.topRows(i1);
      Map P(ws.p.data(), r, i1);  // scores first, P after the softmax
      // ws.c, ws.pi, ws.dc: row ii holds the t singleton values of row i0 + ii.
      auto C = [&](int64_t ii, int64_t m) -> double& { return ws.c(ii, m - 1); };
      auto Pi = [&](int64_t ii, int64_t m) -> double& { return ws.pi(ii, m - 1); };
      auto dC = [&](int64_t ii, int64_t m) -> double& { return ws.dc(ii, m - 1); };

      // Scores against keys [0, i1): tiles above the diagonal are never formed; inside the
      // diagonal tile, row i0 + ii keeps columns [0, i0 + ii] and the rest is set to exact 0.
      P.noalias() = (s * Qt) * K0t.transpose();
      for (int64_t ii = 0; ii < r; ++ii) {
        const int64_t keys = i0 + ii + 1;
        auto row = P.row(ii).head(keys);
        double m_i = row.maxCoeff();
        for (int64_t m = 1; m <= t; ++m) {
          C(ii, m) = s * dot(Q.row(i0 + ii).data(), krow(m, i0 + ii), D);
          m_i = std::max(m_i, C(ii, m));
        }
        // Softmax over prefix + singletons with max subtraction.
        row.array() = (row.array() - m_i).exp();
        P.row(ii).tail(i1 - keys).setZero();
        double z_i = row.sum();
        for (int64_t m = 1; m <= t; ++m) {
          Pi(ii, m) = std::exp(C(ii, m) - m_i);
          z_i += Pi(ii, m);
        }
        row.array() /= z_i;
        for (int64_t m = 1; m <= t; ++m) Pi(ii, m) /= z_i;
        lse[i0 + ii] = m_i + std::log(z_i);
      }

      // out = P V0 + sum_m pi_m v_m.
      auto Ot = O.middleRows(i0, r);
      Ot.noalias() = P * V0t;
      for (int64_t ii = 0; ii < r; ++ii)
        for (int64_t m = 1; m <= t; ++m) axpy(Pi(ii, m), vrow(m, i0 + ii), Ot.row(ii).data(), D);

      if (!backward) continue;

      // Backward of the tile: delta, dS, dQ; accumulate dK0, dV0 over rows [0, i1).
      const ConstMap G(in.grad_out + q_off, n, D);
      const auto Gt = G.middleRows(i0, r);
      auto delta = ws.delta.head(r);
      for (int64_t ii = 0; ii < r; ++ii) {
        const double* g = Gt.row(ii).data();
        delta(ii) = dot(g, Ot.row(ii).data(), D);
        for (int64_t m = 1; m <= t; ++m)
          dC(ii, m) = Pi(ii, m) * (dot(g, vrow(m, i0 + ii), D) - delta(ii));
      }

      Map dS(ws.ds.data(), r, i1);
      dS.noalias() = Gt * V0t.transpose();  // dP
      for (int64_t ii = 0; ii < r; ++ii)
        dS.row(ii).array() = P.row(ii).array() * (dS.row(ii).array() - delta(ii));

      auto dQt = dQ.middleRows(i0, r);
      dQt.noalias() = (s * dS) * K0t;
      if (h == u.kvh * sh.group()) {  // first head of the group: rows [i0, i1) are new
        dK0.middleRows(i0, r).setZero();
        dV0.middleRows(i0, r).setZero();
        for (int64_t m = 1; m <= t; ++m) {
          std::fill_n(dkrow(m, i0), r * D, 0.0);
          std::fill_n(dvrow(m, i0), r * D, 0.0);
        }
      }
      dK0.topRows(i1).noalias() += (s * dS.transpose()) * Qt;
      dV0.topRows(i1).noalias() += P.transpose() * Gt;
      for (int64_t ii = 0; ii < r; ++ii) {
        const int64_t i = i0 + ii;
        for (int64_t m = 1; m <= t; ++m) {
          axpy(s * dC(ii, m), krow(m, i), dQt.row(ii).data(), D);
          axpy(s * dC(ii, m), Q.row(i).data(), dkrow(m, i), D);
          axpy(Pi(ii, m), Gt.row(ii).data(), dvrow(m, i), D);
        }
      }
    }
  }
}

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

  // Longest units first so the dynamic schedule balances unequal valid lengths.
  std::vector<Unit> units;
  for (int64_t b = 0; b < sh.B; ++b)
    for (int64_t kvh = 0; kvh < sh.Hkv; ++kvh) units.push_back({b, kvh, valid_rows(in, b)});
  std::stable_sort(units.begin(), units.end(),
                   [](const Unit& x, const Unit& y) { return x.n > y.n; });
  const int64_t total = static_cast<int64_t>(units.size());

  const int threads = static_cast<int>(std::min<int64_t>(
      opt.threads > 0 ? opt.threads : omp_get_max_threads(), std::max<int64_t>(total, 1)));
  std::atomic<int64_t> done{0};
  std::atomic<bool> abort{false};
  std::exception_ptr error;
  std::mutex error_mutex;

#pragma omp parallel num_threads(threads)
  {
    Scratch ws;
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < total; ++k) {
      if (abort.load(std::memory_order_relaxed)) continue;
      try {
        run_unit(in, units[static_cast<size_t>(k)], opt.tile, result, ws);
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

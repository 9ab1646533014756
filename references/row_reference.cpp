// Pointwise fp64 reference (row_reference.hpp). Every value comes from row_forward, the
// forward of one query row written from the definition (scores by dot products, softmax with
// max subtraction over the causal prefix and the t singletons, out), and the backward formulas
// of ttt_problem.hpp applied to that row. Sums run in a fixed order (eight partial sums by index
// mod 8 for dot products and the softmax sum, rows in ascending order for accumulations).
#include "references/row_reference.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace attn::ref {

namespace {

void check_index(const char* fn, const char* name, int64_t value, int64_t end, const char* what) {
  if (value < 0 || value >= end)
    throw std::invalid_argument(std::string(fn) + ": " + name + " = " + std::to_string(value) +
                                " is out of range [0, " + std::to_string(end) + ") (" + what + ")");
}

inline double combine8(const double* a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

double dot(const double* x, const double* y, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) a[l] += x[k + l] * y[k + l];
  for (int l = 0; k + l < n; ++l) a[l] += x[k + l] * y[k + l];
  return combine8(a);
}

double sum(const double* x, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) a[l] += x[k + l];
  for (int l = 0; k + l < n; ++l) a[l] += x[k + l];
  return combine8(a);
}

inline void axpy(double alpha, const double* x, double* y, int64_t n) {
  for (int64_t d = 0; d < n; ++d) y[d] += alpha * x[d];
}

/// Where row i of (b, head) starts in a [B, heads, L, D] tensor.
inline int64_t row_at(const TttShape& sh, int64_t b, int64_t heads, int64_t head, int64_t i) {
  return ((b * heads + head) * sh.L + i) * sh.D;
}

/// One valid query row's forward: block-0 weights p[j] (j <= i), singleton logits and weights,
/// lse, out, and delta = g.out when there is a grad_out. Buffers are reused between calls.
struct RowForward {
  std::vector<double> p;      ///< p_ij, j = 0..i
  std::vector<double> c, pi;  ///< c_im, pi_im at m - 1
  std::vector<double> out;    ///< [D]
  double max_logit = 0.0, lse = 0.0, delta = 0.0;

  void run(const TttInputs& in, int64_t b, int64_t h, int64_t i) {
    const TttShape& sh = in.shape;
    const int64_t D = sh.D, t = sh.t, kvh = h / sh.group();
    const double s = in.scale;
    const double* q = in.q + row_at(sh, b, sh.H, h, i);
    const double* k0 = in.k[0] + row_at(sh, b, sh.Hkv, kvh, 0);
    const double* v0 = in.v[0] + row_at(sh, b, sh.Hkv, kvh, 0);
    p.resize(static_cast<size_t>(i + 1));
    c.resize(static_cast<size_t>(t));
    pi.resize(static_cast<size_t>(t));
    out.assign(static_cast<size_t>(D), 0.0);

    double mx = -INFINITY;
    for (int64_t j = 0; j <= i; ++j) {
      p[j] = s * dot(q, k0 + j * D, D);
      mx = std::max(mx, p[j]);
    }
    for (int64_t m = 1; m <= t; ++m) {
      c[m - 1] = s * dot(q, in.k[static_cast<size_t>(m)] + row_at(sh, b, sh.Hkv, kvh, i), D);
      mx = std::max(mx, c[m - 1]);
    }
    for (int64_t j = 0; j <= i; ++j) p[j] = std::exp(p[j] - mx);
    double z = sum(p.data(), i + 1);
    for (int64_t m = 1; m <= t; ++m) {
      pi[m - 1] = std::exp(c[m - 1] - mx);
      z += pi[m - 1];
    }
    for (int64_t j = 0; j <= i; ++j) p[j] /= z;
    for (int64_t m = 1; m <= t; ++m) pi[m - 1] /= z;
    max_logit = mx;
    lse = mx + std::log(z);

    for (int64_t j = 0; j <= i; ++j) axpy(p[j], v0 + j * D, out.data(), D);
    for (int64_t m = 1; m <= t; ++m)
      axpy(pi[m - 1], in.v[static_cast<size_t>(m)] + row_at(sh, b, sh.Hkv, kvh, i), out.data(), D);
    delta = in.grad_out ? dot(in.grad_out + row_at(sh, b, sh.H, h, i), out.data(), D) : 0.0;
  }

  /// dc_im = pi_im (g_i.v_m,i - delta_i) of the row last run (grad_out must be set).
  double dc(const TttInputs& in, int64_t b, int64_t h, int64_t i, int64_t m) const {
    const TttShape& sh = in.shape;
    const double* g = in.grad_out + row_at(sh, b, sh.H, h, i);
    const double* vm = in.v[static_cast<size_t>(m)] + row_at(sh, b, sh.Hkv, h / sh.group(), i);
    return pi[m - 1] * (dot(g, vm, sh.D) - delta);
  }
};

std::vector<std::vector<double>> zeros(int64_t rows, int64_t D) {
  return std::vector<std::vector<double>>(static_cast<size_t>(rows),
                                          std::vector<double>(static_cast<size_t>(D), 0.0));
}

}  // namespace

QueryRow query_row(const TttInputs& in, int64_t b, int64_t h, int64_t i) {
  validate(in);
  const TttShape& sh = in.shape;
  check_index("query_row", "b", b, sh.B, "batch element");
  check_index("query_row", "h", h, sh.H, "query head");
  check_index("query_row", "i", i, sh.L, "row");
  const int64_t D = sh.D, t = sh.t, kvh = h / sh.group();
  const double s = in.scale;

  QueryRow r;
  r.valid_rows = valid_rows(in, b);
  r.valid = i < r.valid_rows;
  r.out.assign(static_cast<size_t>(D), 0.0);
  r.dq.assign(static_cast<size_t>(D), 0.0);
  r.singleton_logit.assign(static_cast<size_t>(t), 0.0);
  r.singleton_weight.assign(static_cast<size_t>(t), 0.0);
  r.dk_singleton = zeros(t, D);
  r.dv_singleton = zeros(t, D);
  if (!r.valid) return r;

  RowForward f;
  f.run(in, b, h, i);
  r.out = f.out;
  r.lse = f.lse;
  r.delta = f.delta;
  r.max_logit = f.max_logit;
  r.singleton_logit = f.c;
  r.singleton_weight = f.pi;
  for (int64_t j = 0; j <= i; ++j)
    if (f.p[j] > r.max_weight0) r.max_weight0 = f.p[j], r.max_weight0_key = j;
  if (r.max_weight0_key < 0) r.max_weight0_key = 0;  // every weight underflowed to 0
  if (!in.grad_out) return r;

  // dq_i = s (sum_j p_ij (g_i.v0_j - delta_i) k0_j + sum_m dc_im k_m,i); this head's
  // contributions to dk_m,i and dv_m,i.
  const double* q = in.q + row_at(sh, b, sh.H, h, i);
  const double* g = in.grad_out + row_at(sh, b, sh.H, h, i);
  const double* k0 = in.k[0] + row_at(sh, b, sh.Hkv, kvh, 0);
  const double* v0 = in.v[0] + row_at(sh, b, sh.Hkv, kvh, 0);
  for (int64_t j = 0; j <= i; ++j) {
    const double ds = f.p[j] * (dot(g, v0 + j * D, D) - f.delta);
    axpy(s * ds, k0 + j * D, r.dq.data(), D);
  }
  for (int64_t m = 1; m <= t; ++m) {
    const double dc = f.dc(in, b, h, i, m);
    axpy(s * dc, in.k[static_cast<size_t>(m)] + row_at(sh, b, sh.Hkv, kvh, i), r.dq.data(), D);
    axpy(s * dc, q, r.dk_singleton[m - 1].data(), D);
    axpy(f.pi[m - 1], g, r.dv_singleton[m - 1].data(), D);
  }
  return r;
}

SingletonKvRow singleton_kv_row(const TttInputs& in, int64_t b, int64_t kvh, int64_t i) {
  validate(in);
  const TttShape& sh = in.shape;
  check_index("singleton_kv_row", "b", b, sh.B, "batch element");
  check_index("singleton_kv_row", "kvh", kvh, sh.Hkv, "kv head");
  check_index("singleton_kv_row", "i", i, sh.L, "row");
  const int64_t D = sh.D, t = sh.t;
  SingletonKvRow r;
  r.valid = i < valid_rows(in, b);
  r.dk = zeros(t, D);
  r.dv = zeros(t, D);
  if (!r.valid || !in.grad_out || t == 0) return r;
  RowForward f;
  for (int64_t h = kvh * sh.group(); h < (kvh + 1) * sh.group(); ++h) {
    f.run(in, b, h, i);
    const double* q = in.q + row_at(sh, b, sh.H, h, i);
    const double* g = in.grad_out + row_at(sh, b, sh.H, h, i);
    for (int64_t m = 1; m <= t; ++m) {
      axpy(in.scale * f.dc(in, b, h, i, m), q, r.dk[m - 1].data(), D);
      axpy(f.pi[m - 1], g, r.dv[m - 1].data(), D);
    }
  }
  return r;
}

KeyRow key_row(const TttInputs& in, int64_t b, int64_t kvh, int64_t j, int threads) {
  validate(in);
  const TttShape& sh = in.shape;
  check_index("key_row", "b", b, sh.B, "batch element");
  check_index("key_row", "kvh", kvh, sh.Hkv, "kv head");
  check_index("key_row", "j", j, sh.L, "key row");
  if (threads < 0)
    throw std::invalid_argument("key_row: threads = " + std::to_string(threads) +
                                " is negative (0: OpenMP default)");
  const int64_t D = sh.D, G = sh.group(), n = valid_rows(in, b), h0 = kvh * G;
  KeyRow r;
  r.valid = j < n;
  r.dk.assign(static_cast<size_t>(D), 0.0);
  r.dv.assign(static_cast<size_t>(D), 0.0);
  if (!r.valid) return r;
  r.rows = G * (n - j);
  if (!in.grad_out) return r;

  // Per contributing (head, row): p_ij and ds_ij, at (h - h0) (n - j) + (i - j). Computed in
  // parallel, most expensive rows (largest i) first; accumulated afterwards in that fixed order.
  const int64_t R = r.rows;
  std::vector<double> p(static_cast<size_t>(R)), ds(static_cast<size_t>(R));
  const double* v0j = in.v[0] + row_at(sh, b, sh.Hkv, kvh, j);
  // The OpenMP default is cut down for small work (about 4 MFLOP per thread at least), as in
  // structured_reference: a team costs more than it saves there.
  int team = threads;
  if (team == 0) {
    const double flops = 6.0 * static_cast<double>(D) * static_cast<double>(G) *
                         static_cast<double>(n - j) * static_cast<double>(n + j) / 2.0;
    team = static_cast<int>(std::max(1.0, std::min<double>(omp_get_max_threads(), flops / 4e6)));
  }
#pragma omp parallel num_threads(static_cast <int>(std::min <int64_t>(team, R)))
  {
    RowForward f;
    f.p.reserve(static_cast<size_t>(n));
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < R; ++k) {
      const int64_t i = n - 1 - k / G, h = h0 + k % G;
      f.run(in, b, h, i);
      const double pij = f.p[static_cast<size_t>(j)];
      const double* g = in.grad_out + row_at(sh, b, sh.H, h, i);
      const size_t at = static_cast<size_t>((h - h0) * (n - j) + (i - j));
      p[at] = pij;
      ds[at] = pij * (dot(g, v0j, D) - f.delta);
    }
  }
  // dk0_j = s sum ds_ij q_i, dv0_j = sum p_ij g_i over heads, then rows, ascending.
  for (int64_t h = h0; h < h0 + G; ++h)
    for (int64_t i = j; i < n; ++i) {
      const size_t at = static_cast<size_t>((h - h0) * (n - j) + (i - j));
      axpy(in.scale * ds[at], in.q + row_at(sh, b, sh.H, h, i), r.dk.data(), D);
      axpy(p[at], in.grad_out + row_at(sh, b, sh.H, h, i), r.dv.data(), D);
    }
  return r;
}

}  // namespace attn::ref

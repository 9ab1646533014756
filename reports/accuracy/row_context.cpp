#include "reports/accuracy/row_context.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "datasets/errors.hpp"

namespace attn::report {

RowContext row_context(const data::CaseInputs& in, double reference_lse, int64_t b, int64_t h,
                       int64_t i) {
  const data::CaseConfig& c = in.config;
  if (b < 0 || b >= c.B || h < 0 || h >= c.H || i < 0 || i >= c.L)
    throw data::InputError("row (b=" + std::to_string(b) + ", h=" + std::to_string(h) + ", i=" +
                           std::to_string(i) + ") is outside B=" + std::to_string(c.B) + ", H=" +
                           std::to_string(c.H) + ", L=" + std::to_string(c.L));
  RowContext r;
  r.b = b;
  r.h = h;
  r.i = i;
  r.valid_rows = std::max<int64_t>(0, in.valid_len[size_t(b)] - c.t);
  r.valid = i < r.valid_rows;
  const double s = c.scale != 0 ? c.scale : 1.0 / std::sqrt(double(c.D));
  const int64_t kvh = h / (c.H / c.Hkv);
  std::vector<double> q(static_cast<size_t>(c.D)), kj(static_cast<size_t>(c.D));
  in.q.read_f64(((b * c.H + h) * c.L + i) * c.D, c.D, q.data());
  const auto logit = [&](const data::Tensor& k, int64_t j) {
    k.read_f64(((b * c.Hkv + kvh) * c.L + j) * c.D, c.D, kj.data());
    double dot = 0;
    for (int64_t d = 0; d < c.D; ++d) dot += q[size_t(d)] * kj[size_t(d)];
    return s * dot;
  };
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j <= i; ++j) m = std::max(m, logit(in.k[0], j));
  for (int64_t blk = 1; blk <= c.t; ++blk) {
    const double cm = logit(in.k[size_t(blk)], i);
    r.singleton_logits.push_back(cm);
    m = std::max(m, cm);
  }
  r.max_logit = m;
  r.lse = reference_lse;
  if (r.valid) {
    r.max_weight = std::exp(m - r.lse);
    for (double cm : r.singleton_logits) r.singleton_weights.push_back(std::exp(cm - r.lse));
  }
  return r;
}

}  // namespace attn::report

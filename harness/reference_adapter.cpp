#include "harness/reference_adapter.hpp"

#include <cmath>

namespace attn::cli {
namespace {

std::vector<double> to_f64(const data::Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  const int64_t n = t.numel(), chunk = int64_t(1) << 20;
#pragma omp parallel for schedule(static) if (n > chunk)
  for (int64_t first = 0; first < n; first += chunk)
    t.read_f64(first, std::min(chunk, n - first), v.data() + first);
  return v;
}

}  // namespace

std::unique_ptr<ReferenceProblem> reference_problem(const data::CaseInputs& in) {
  const data::CaseConfig& c = in.config;
  auto p = std::make_unique<ReferenceProblem>();
  p->q = to_f64(in.q);
  p->grad_out = to_f64(in.grad_out);
  for (const auto& k : in.k) p->k.push_back(to_f64(k));
  for (const auto& v : in.v) p->v.push_back(to_f64(v));
  ref::TttInputs& r = p->view;
  r.shape = ref::TttShape{c.B, c.H, c.Hkv, c.L, c.D, c.t};
  r.scale = data::effective_scale(c);
  r.q = p->q.data();
  for (const auto& k : p->k) r.k.push_back(k.data());
  for (const auto& v : p->v) r.v.push_back(v.data());
  r.grad_out = p->grad_out.data();
  r.valid_len = in.valid_len;
  return p;
}

data::AttentionOutputs reference_outputs(ref::TttResult&& r, const data::CaseConfig& c) {
  const std::vector<int64_t> qs{c.B, c.H, c.L, c.D}, kvs{c.B, c.Hkv, c.L, c.D}, ls{c.B, c.H, c.L};
  data::AttentionOutputs o;
  o.out = data::Tensor::from_f64(data::DType::f64, qs, std::move(r.out));
  o.lse = data::Tensor::from_f64(data::DType::f64, ls, std::move(r.lse));
  o.dq = data::Tensor::from_f64(data::DType::f64, qs, std::move(r.dq));
  for (auto& dk : r.dk) o.dk.push_back(data::Tensor::from_f64(data::DType::f64, kvs, std::move(dk)));
  for (auto& dv : r.dv) o.dv.push_back(data::Tensor::from_f64(data::DType::f64, kvs, std::move(dv)));
  return o;
}

}  // namespace attn::cli

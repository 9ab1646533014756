#include "harness/reference_adapter.hpp"

#include <cmath>

namespace attn::cli {

ref::TttInputs reference_inputs(const data::CaseInputs& in) {
  const data::CaseConfig& c = in.config;
  ref::TttInputs r;
  r.shape = ref::TttShape{c.B, c.H, c.Hkv, c.L, c.D, c.t};
  r.scale = c.scale > 0 ? c.scale : 1.0 / std::sqrt(double(c.D));
  r.q = in.q.values.data();
  for (const auto& k : in.k) r.k.push_back(k.values.data());
  for (const auto& v : in.v) r.v.push_back(v.values.data());
  r.grad_out = in.grad_out.values.data();
  r.valid_len = in.valid_len;
  return r;
}

data::AttentionOutputs reference_outputs(ref::TttResult&& r, const data::CaseConfig& c) {
  auto tensor = [](std::vector<int64_t> shape, std::vector<double>&& values) {
    data::Tensor t;
    t.dtype = data::DType::f64;
    t.shape = std::move(shape);
    t.values = std::move(values);
    return t;
  };
  const std::vector<int64_t> qs{c.B, c.H, c.L, c.D}, kvs{c.B, c.Hkv, c.L, c.D}, ls{c.B, c.H, c.L};
  data::AttentionOutputs o;
  o.out = tensor(qs, std::move(r.out));
  o.lse = tensor(ls, std::move(r.lse));
  o.dq = tensor(qs, std::move(r.dq));
  for (auto& dk : r.dk) o.dk.push_back(tensor(kvs, std::move(dk)));
  for (auto& dv : r.dv) o.dv.push_back(tensor(kvs, std::move(dv)));
  return o;
}

}  // namespace attn::cli

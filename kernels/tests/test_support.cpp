#include "kernels/tests/test_support.hpp"

#include <cmath>
#include <iomanip>
#include <random>
#include <sstream>

#include "datasets/dtype.hpp"
#include "kernels/detail/ttt_rows.hpp"
#include "references/structured_reference.hpp"

namespace attn::kern::test {
namespace {

data::Tensor random_tensor(std::mt19937_64& rng, data::DType dtype, std::vector<int64_t> shape,
                           double std) {
  data::Tensor t = data::Tensor::zeros(dtype, std::move(shape));
  std::normal_distribution<double> normal(0.0, std);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, data::round_to(dtype, normal(rng)));
  return t;
}

at::Tensor ref_tensor(const std::vector<double>& values, std::vector<int64_t> shape) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  std::copy(values.begin(), values.end(), t.data_ptr<double>());
  return t;
}

/// [B, 1, L] (or [B, 1, L, 1]) double mask of valid rows.
at::Tensor row_mask(const data::CaseInputs& in, bool with_d) {
  const auto& c = in.config;
  at::Tensor m = detail::valid_row_mask(detail::valid_rows(in.valid_len, c.L, c.t), c.L, at::kCPU)
                     .to(at::kDouble);
  return with_d ? m.unsqueeze(-1) : m;
}

TensorError measure(const std::string& name, const at::Tensor& x, const at::Tensor& ref,
                    const at::Tensor& mask, at::ScalarType floor_type) {
  TensorError e;
  e.name = name;
  const at::Tensor xd = x.detach().to(at::kCPU, at::kDouble);
  const at::Tensor sel = mask.defined() ? mask.expand_as(ref).to(at::kBool) : at::ones_like(ref, at::kBool);
  const at::Tensor xs = xd.masked_select(sel), rs = ref.masked_select(sel);
  if (rs.numel() == 0) return e;
  e.finite = at::isfinite(xs).all().item<bool>();
  e.err = (xs - rs).abs().max().item<double>();
  e.ref_max = rs.abs().max().item<double>();
  const at::Tensor rf = rs.to(floor_type);
  const at::Tensor back = ((rf + 0.3) - 0.3) - rf;  // arithmetic in floor_type
  e.floor = 2.0 * back.abs().max().item<double>();
  return e;
}

}  // namespace

std::string describe(const CaseSpec& s) {
  std::ostringstream o;
  o << "B" << s.B << " H" << s.H << " Hkv" << s.Hkv << " L" << s.L << " D" << s.D << " t" << s.t
    << " " << data::to_string(s.dtype) << " pad[";
  for (size_t i = 0; i < s.pad.size(); ++i) o << (i ? "," : "") << s.pad[i];
  o << "] seed" << s.seed;
  return o.str();
}

data::CaseInputs make_case(const CaseSpec& s) {
  std::mt19937_64 rng(s.seed);
  data::CaseInputs c;
  c.config = data::CaseConfig{s.B, s.H, s.Hkv, s.L, s.D, s.t, s.dtype, 1.0 / std::sqrt(double(s.D))};
  const std::vector<int64_t> qs{s.B, s.H, s.L, s.D}, kvs{s.B, s.Hkv, s.L, s.D};
  c.q = random_tensor(rng, s.dtype, qs, s.q_std);
  for (int64_t m = 0; m <= s.t; ++m) {
    c.k.push_back(random_tensor(rng, s.dtype, kvs, s.k_std));
    c.v.push_back(random_tensor(rng, s.dtype, kvs, s.v_std));
  }
  c.grad_out = random_tensor(rng, s.dtype, qs, s.grad_std);
  for (int64_t b = 0; b < s.B; ++b)
    c.valid_len.push_back(s.L - (s.pad.empty() ? 0 : s.pad[size_t(b) % s.pad.size()]));
  return c;
}

ref::TttResult reference(const data::CaseInputs& in) {
  ref::TttInputs r;
  const auto& c = in.config;
  r.shape = ref::TttShape{c.B, c.H, c.Hkv, c.L, c.D, c.t};
  r.scale = c.scale != 0.0 ? c.scale : 1.0 / std::sqrt(double(c.D));
  // fp64 copies of the inputs, alive for the call.
  const std::vector<double> q = in.q.to_f64(), g = in.grad_out.to_f64();
  std::vector<std::vector<double>> k, v;
  for (const auto& x : in.k) k.push_back(x.to_f64());
  for (const auto& x : in.v) v.push_back(x.to_f64());
  r.q = q.data();
  for (const auto& x : k) r.k.push_back(x.data());
  for (const auto& x : v) r.v.push_back(x.data());
  r.grad_out = g.data();
  r.valid_len = in.valid_len;
  return ref::structured_reference(r);
}

std::vector<TensorError> compare(const TorchOutputs& o, const ref::TttResult& r,
                                 const data::CaseInputs& in, at::ScalarType floor_type) {
  const auto& c = in.config;
  const std::vector<int64_t> qs{c.B, c.H, c.L, c.D}, ls{c.B, c.H, c.L}, kvs{c.B, c.Hkv, c.L, c.D};
  std::vector<TensorError> e;
  e.push_back(measure("out", o.out, ref_tensor(r.out, qs), row_mask(in, true), floor_type));
  e.push_back(measure("lse", o.lse, ref_tensor(r.lse, ls), row_mask(in, false), at::kFloat));
  e.push_back(measure("dq", o.dq, ref_tensor(r.dq, qs), row_mask(in, true), floor_type));
  for (size_t m = 0; m < r.dk.size(); ++m)
    e.push_back(measure("dk" + std::to_string(m), o.dk[m], ref_tensor(r.dk[m], kvs), {}, floor_type));
  for (size_t m = 0; m < r.dv.size(); ++m)
    e.push_back(measure("dv" + std::to_string(m), o.dv[m], ref_tensor(r.dv[m], kvs), {}, floor_type));
  return e;
}

std::string gate_failures(const std::vector<TensorError>& cand, const std::vector<TensorError>& base,
                          std::string* report) {
  std::string failed;
  std::ostringstream rep;
  rep << std::scientific << std::setprecision(3);
  for (size_t i = 0; i < cand.size() && i < base.size(); ++i) {
    const TensorError& c = cand[i];
    const TensorError& b = base[i];
    const double r = (c.name == "out" || c.name == "lse") ? 2.0 : 3.0;
    const bool pass = c.finite && c.err <= r * b.err + c.floor;
    if (!pass) failed += (failed.empty() ? "" : ",") + c.name;
    rep << "  " << std::left << std::setw(5) << c.name << " err_flash " << c.err << "  err_sdpa "
        << b.err << "  ratio " << std::fixed << std::setprecision(3)
        << (b.err > 0 ? c.err / b.err : 0.0) << std::scientific << std::setprecision(3)
        << "  floor " << c.floor << "  bound " << r * b.err + c.floor << (pass ? "  ok" : "  FAIL")
        << "\n";
  }
  if (report) *report = rep.str();
  return failed;
}

double invalid_rows_max_abs(const at::Tensor& x, const data::CaseInputs& in) {
  const at::Tensor mask = row_mask(in, x.dim() == 4).logical_not();
  const at::Tensor xd = x.detach().to(at::kCPU, at::kDouble);
  const at::Tensor sel = xd.masked_select(mask.expand_as(xd).to(at::kBool));
  return sel.numel() ? sel.abs().max().item<double>() : 0.0;
}

}  // namespace attn::kern::test

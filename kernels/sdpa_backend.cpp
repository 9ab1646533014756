#include "kernels/sdpa_backend.hpp"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include "kernels/detail/ttt_rows.hpp"
#include "kernels/registry.hpp"

namespace attn::kern {

at::Tensor sdpa_mask(const at::Tensor& valid_len, int64_t L, const at::TensorOptions& opts) {
  const int64_t B = valid_len.size(0);
  const double lowest = detail::finfo_min(opts.dtype().toScalarType());
  const at::Tensor causal = at::full({L, L}, lowest, opts).triu(1).view({1, 1, L, L});
  const at::Tensor key_pos = at::arange(L, opts.dtype(at::kLong)).view({1, L});
  const at::Tensor key_pad =
      at::where(key_pos >= valid_len.view({B, 1}), at::scalar_tensor(lowest, opts),
                at::scalar_tensor(0.0, opts))
          .view({B, 1, 1, L});
  return causal + key_pad;  // [B, 1, L, L]; overlapping entries are -inf
}

SdpaForward sdpa_forward(const at::Tensor& q, at::TensorList k, at::TensorList v,
                         const at::Tensor& mask, double scale) {
  const int64_t t = int64_t(k.size()) - 1, L = q.size(2), G = q.size(1) / k[0].size(1);
  const at::ScalarType dtype = q.scalar_type();
  // K and V repeated over the GQA groups, as the training code does (no copy without GQA).
  auto rep = [G](const at::Tensor& x) { return G > 1 ? x.repeat_interleave(G, 1) : x; };
  const at::Tensor k0 = rep(k[0]), v0 = rep(v[0]);
  std::vector<at::Tensor> columns{at::matmul(q, k0.transpose(-1, -2)) * scale + mask};
  std::vector<at::Tensor> v_rep;
  for (int64_t m = 1; m <= t; ++m) {
    columns.push_back((q * rep(k[size_t(m)])).sum(-1, true) * scale);
    v_rep.push_back(rep(v[size_t(m)]));
  }
  SdpaForward f;
  f.scores = t > 0 ? at::cat(columns, -1) : columns[0];  // [B, H, L, L + t]
  const at::Tensor p = at::softmax(f.scores.to(detail::acc_type(dtype)), -1).to(dtype);
  f.out = at::matmul(p.narrow(-1, 0, L), v0);
  for (int64_t m = 1; m <= t; ++m) f.out = f.out + p.narrow(-1, L + m - 1, 1) * v_rep[size_t(m - 1)];
  return f;
}

std::string SdpaBackend::description() const {
  return "eager attention with an explicit additive mask (training code); autograd backward";
}

Support SdpaBackend::supports(const data::CaseConfig& config, const at::Device& device) const {
  if (config.H % config.Hkv != 0)
    return {false, "unsupported: H " + std::to_string(config.H) + " is not a multiple of Hkv " +
                       std::to_string(config.Hkv)};
  if (device.is_cuda() && !cuda_available())
    return {false, "unsupported: no CUDA device in this process"};
  return {};
}

TorchOutputs SdpaBackend::run(const TorchCase& c) const {
  c10::AutoGradMode grad_mode(true);
  const auto& cfg = c.config;
  const int64_t L = cfg.L, t = cfg.t;
  const at::ScalarType dtype = c.q.scalar_type();
  const at::ScalarType soft = detail::acc_type(dtype);
  const auto opts = c.q.options();

  std::vector<at::Tensor> leaves;
  const at::Tensor q = c.q.detach().requires_grad_(true);
  leaves.push_back(q);
  std::vector<at::Tensor> k, v;
  for (int64_t m = 0; m <= t; ++m) k.push_back(c.k[m].detach().requires_grad_(true));
  for (int64_t m = 0; m <= t; ++m) v.push_back(c.v[m].detach().requires_grad_(true));
  leaves.insert(leaves.end(), k.begin(), k.end());
  leaves.insert(leaves.end(), v.begin(), v.end());

  const SdpaForward f = sdpa_forward(q, k, v, sdpa_mask(c.valid_len, L, opts), c.scale);
  const at::Tensor& out = f.out;
  const at::Tensor& scores = f.scores;

  TorchOutputs o;
  {
    c10::NoGradGuard no_grad;
    o.lse = at::logsumexp(scores.detach().to(soft), -1);
  }
  // The contract ignores grad_out on invalid rows (the training loss masks them).
  const at::Tensor valid = detail::valid_row_mask(detail::valid_rows(c), L, c.q.device());
  const at::Tensor g = c.grad_out * valid.unsqueeze(-1).to(dtype);
  const auto grads = torch::autograd::grad({out}, leaves, {g});
  o.out = out.detach();
  o.dq = grads[0];
  for (int64_t m = 0; m <= t; ++m) o.dk.push_back(grads[1 + m]);
  for (int64_t m = 0; m <= t; ++m) o.dv.push_back(grads[2 + t + m]);
  return o;
}

}  // namespace attn::kern

#include "kernels/sdpa_backend.hpp"

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include "kernels/detail/ttt_rows.hpp"
#include "kernels/registry.hpp"

namespace attn::kern {

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
  const int64_t B = cfg.B, L = cfg.L, t = cfg.t, G = cfg.H / cfg.Hkv;
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

  // The fixed additive mask, built in the input dtype as the training code does.
  const double lowest = detail::finfo_min(dtype);
  const at::Tensor causal = at::full({L, L}, lowest, opts).triu(1).view({1, 1, L, L});
  const at::Tensor key_pos = at::arange(L, opts.dtype(at::kLong)).view({1, L});
  const at::Tensor key_pad =
      at::where(key_pos >= c.valid_len.view({B, 1}), at::scalar_tensor(lowest, opts),
                at::scalar_tensor(0.0, opts))
          .view({B, 1, 1, L});
  const at::Tensor mask = causal + key_pad;  // [B, 1, L, L]; overlapping entries are -inf

  const at::Tensor k0 = k[0].repeat_interleave(G, 1), v0 = v[0].repeat_interleave(G, 1);
  std::vector<at::Tensor> columns{at::matmul(q, k0.transpose(-1, -2)) * c.scale + mask};
  std::vector<at::Tensor> v_rep;
  for (int64_t m = 1; m <= t; ++m) {
    columns.push_back((q * k[m].repeat_interleave(G, 1)).sum(-1, true) * c.scale);
    v_rep.push_back(v[m].repeat_interleave(G, 1));
  }
  const at::Tensor scores = t > 0 ? at::cat(columns, -1) : columns[0];  // [B, H, L, L + t]
  const at::Tensor p = at::softmax(scores.to(soft), -1).to(dtype);
  at::Tensor out = at::matmul(p.narrow(-1, 0, L), v0);
  for (int64_t m = 1; m <= t; ++m) out = out + p.narrow(-1, L + m - 1, 1) * v_rep[m - 1];

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

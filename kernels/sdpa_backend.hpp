// "sdpa": the eager explicit-mask attention of the EAGLE-3 training code, with autograd for the
// backward (docs/design.md, "Padded rows").
#pragma once

#include "kernels/backend.hpp"

namespace attn::kern {

/// Scores Q K0^T * s plus one fixed additive [B, 1, L, L] mask in the input dtype (causal +
/// key padding, finfo(dtype).min where masked: where both apply the sum overflows to -inf),
/// singleton columns (q * k_m).sum(-1) * s concatenated unmasked, softmax in fp32 (fp64 for
/// fp64 inputs) cast back to the input dtype, products in the input dtype, K and V repeated
/// over the GQA groups. lse: logsumexp of the masked scores in fp32 (fp64).
/// grad_out is zeroed on invalid rows before the backward (the contract ignores it there, as
/// the training loss mask does), so dk and dv follow the contract; out, lse and dq on invalid
/// rows are the backend's own finite values.
/// The fixed additive mask [B, 1, L, L] in `opts`' dtype: causal plus key padding
/// (valid_len: [B] int64 on the same device), finfo(dtype).min where masked, -inf where both.
at::Tensor sdpa_mask(const at::Tensor& valid_len, int64_t L, const at::TensorOptions& opts);

struct SdpaForward {
  at::Tensor out;     ///< [B, H, L, D] input dtype
  at::Tensor scores;  ///< [B, H, L, L + t] input dtype, masked (the LSE is their logsumexp)
};

/// The forward described above, recorded by autograd (the backward is autograd's). k, v: the
/// t + 1 cache blocks; `mask` from sdpa_mask. Used by SdpaBackend and by attn-bench.
SdpaForward sdpa_forward(const at::Tensor& q, at::TensorList k, at::TensorList v,
                         const at::Tensor& mask, double scale);

class SdpaBackend final : public Backend {
 public:
  std::string name() const override { return "sdpa"; }
  std::string description() const override;
  InvalidRows invalid_rows() const override { return InvalidRows::unspecified; }
  Support supports(const data::CaseConfig& config, const at::Device& device) const override;
  TorchOutputs run(const TorchCase& c) const override;
};

}  // namespace attn::kern

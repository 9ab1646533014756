// The singleton blocks of the flash + LSE path and their merge with block 0
// (../../shared/DESIGN.md section 2), in the accumulation type (fp32; fp64 for fp64 inputs):
//   c_m = s q_i . k_m,i,  lse = log(exp(lse0) + sum_m exp(c_m)),
//   out = exp(lse0 - lse) out0 + sum_m exp(c_m - lse) v_m,i,
// and the singleton part of the backward (dq contribution, dk_m, dv_m for m >= 1). Two
// implementations: composed ATen ops (any device; block by block, never concatenating the cache)
// and fused CUDA kernels (kernels/cuda/, builds with ATTN_WITH_CUDA).
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace attn::kern::detail {

enum class MergeImpl { composed, fused_cuda };
std::string to_string(MergeImpl m);

/// Deliberate defects of the composed merge, used only by the gate self-test's mutants
/// (FlashOptions::Defect); the default is the contract. The fused kernels refuse any.
struct MergeDefects {
  bool accumulate_in_input_dtype = false;  ///< scores, merge and singleton gradients in bf16
                                           ///< (results still returned in the contract's types)
  bool dk_first_group_head = false;        ///< dk_m from the group's first query head, no sum
  bool keep_invalid_rows = false;          ///< forward does not zero out and lse on invalid rows
  bool any() const { return accumulate_in_input_dtype || dk_first_group_head || keep_invalid_rows; }
};

struct MergeForward {
  at::Tensor out;  ///< [B, H, L, D] contiguous, input dtype; exact zeros on invalid rows
  at::Tensor lse;  ///< [B, H, L] accumulation type; exact zeros on invalid rows
};

/// q: [B, H, L, D]; k, v: the t + 1 cache blocks (block 0 is not read); out0: [B, H, L, D]
/// (any strides); lse0: [B, H, L]; rows: valid rows n_b per batch element; t = k.size() - 1.
MergeForward merge_forward(MergeImpl impl, const at::Tensor& q, at::TensorList k,
                           at::TensorList v, const at::Tensor& out0, const at::Tensor& lse0,
                           const std::vector<int64_t>& rows, double scale,
                           const MergeDefects& defects = {});

struct SingletonGrads {
  at::Tensor dq;                  ///< [B, H, L, D] accumulation type: sum_m s dc_m k_m,i
  std::vector<at::Tensor> dk, dv; ///< m = 1..t (t entries), [B, Hkv, L, D], input dtype
};

/// g: grad_out [B, H, L, D], zero on invalid rows; out, lse: the merged forward results.
SingletonGrads merge_backward(MergeImpl impl, const at::Tensor& q, at::TensorList k,
                              at::TensorList v, const at::Tensor& g, const at::Tensor& out,
                              const at::Tensor& lse, const std::vector<int64_t>& rows,
                              double scale, const MergeDefects& defects = {});

/// Whether the fused CUDA kernels can take this problem: a build with ATTN_WITH_CUDA, q on a
/// CUDA device in bf16 / f16 / f32, D <= 256, t <= 16, H / Hkv <= 16. Otherwise `why` says
/// which limit failed.
bool fused_merge_available(const at::Tensor& q, int64_t Hkv, int64_t t, std::string* why = nullptr);

}  // namespace attn::kern::detail

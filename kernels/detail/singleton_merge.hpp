// The singleton blocks of the flash + LSE path and their merge with block 0
// (docs/design.md, "The function"), in the accumulation type (fp32; fp64 for fp64 inputs):
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
  bool scores_in_input_dtype = false;      ///< singleton scores c_m computed in bf16 (forward and
                                           ///< backward); the rest in the accumulation type
  bool any() const {
    return accumulate_in_input_dtype || dk_first_group_head || keep_invalid_rows ||
           scores_in_input_dtype;
  }
};

struct MergeForward {
  at::Tensor out;  ///< [B, H, L, D] input dtype; exact zeros on invalid rows
  at::Tensor lse;  ///< [B, H, L] accumulation type, contiguous; exact zeros on invalid rows
};

/// q: [B, H, L, D]; k, v: the t + 1 cache blocks (block 0 is not read); out0: [B, H, L, D]
/// (any strides); lse0: [B, H, L]; rows: valid rows n_b per batch element; t = k.size() - 1.
/// `out_in_place`: the fused kernel writes out into out0's memory (out0 in the input dtype,
/// last dimension contiguous) and returns out0; out0's old values are gone. The composed merge
/// always returns a new tensor.
MergeForward merge_forward(MergeImpl impl, const at::Tensor& q, at::TensorList k,
                           at::TensorList v, const at::Tensor& out0, const at::Tensor& lse0,
                           const std::vector<int64_t>& rows, double scale,
                           const MergeDefects& defects = {}, bool out_in_place = false);

/// The backward is split so that a caller can hand each block's gradients to autograd as soon
/// as they exist (kernels/flash_backend.cpp): g is grad_out [B, H, L, D] (invalid rows are skipped, whatever g holds there);
/// out, lse are the merged forward results.

/// dq of the step: dq0 (block 0's dq, [B, H, L, D] in the input dtype) plus the singleton part
/// s sum_m dc_m k_m,i, summed in the accumulation type and rounded once to the input dtype.
/// The fused kernel writes the sum into dq0's memory (when dq0 has a contiguous last dimension)
/// and returns dq0.
at::Tensor merge_backward_dq(MergeImpl impl, const at::Tensor& q, at::TensorList k,
                             at::TensorList v, const at::Tensor& g, const at::Tensor& out,
                             const at::Tensor& lse, const std::vector<int64_t>& rows, double scale,
                             const at::Tensor& dq0, const MergeDefects& defects = {});

struct BlockGrads {
  at::Tensor dk, dv;  ///< [B, Hkv, L, D] input dtype, summed over the GQA group
};

/// dk_m and dv_m of singleton block m (1 <= m <= t).
BlockGrads merge_backward_block(MergeImpl impl, int64_t m, const at::Tensor& q, at::TensorList k,
                                at::TensorList v, const at::Tensor& g, const at::Tensor& out,
                                const at::Tensor& lse, const std::vector<int64_t>& rows,
                                double scale, const MergeDefects& defects = {});

/// The gradient buffers of the singleton blocks for merge_backward_step (index m - 1 holds
/// block m, m = 1..t). dk / dv undefined: the block is not wanted and not written. Otherwise
/// [B, Hkv, L, D] in the input dtype with a contiguous last dimension (any other strides), and
/// accumulate[m - 1] says whether the step's contribution overwrites the buffer (false: its old
/// values are ignored, rows past the valid ones become 0) or is added to it (true: fp32 sum
/// rounded once; invalid rows keep their values).
struct BlockGradBuffers {
  std::vector<at::Tensor> dk, dv;
  std::vector<bool> accumulate;
};

/// The whole singleton backward of a step in ONE fused CUDA launch, one pass over q, g, out,
/// lse and the blocks: returns dq as merge_backward_dq does (written into dq0's memory when it
/// has a contiguous last dimension) and writes or adds every wanted block's dk_m, dv_m into
/// `blocks`. MergeImpl::fused_cuda only (no defects); bit for bit the values of
/// merge_backward_dq and merge_backward_block(fused_cuda) in overwrite mode.
at::Tensor merge_backward_step_fused(const at::Tensor& q, at::TensorList k, at::TensorList v,
                                     const at::Tensor& g, const at::Tensor& out,
                                     const at::Tensor& lse, const std::vector<int64_t>& rows,
                                     double scale, const at::Tensor& dq0,
                                     const BlockGradBuffers& blocks);

/// Whether the fused CUDA kernels can take this problem: a build with ATTN_WITH_CUDA, q on a
/// CUDA device in bf16 / f16 / f32, D <= 256, t <= 16, H / Hkv <= 16. Otherwise `why` says
/// which limit failed.
bool fused_merge_available(const at::Tensor& q, int64_t Hkv, int64_t t, std::string* why = nullptr);

}  // namespace attn::kern::detail

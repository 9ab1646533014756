// Block 0 of the flash + LSE path: causal attention of the queries over the target prefix
// through a kernel that returns the log-sum-exp, and its backward given an arbitrary output and
// normaliser (the merged ones, for the correct backward).
//
// Every kernel here computes block 0 over a prefix that valid rows read in full and nothing
// else: row i < n_b = valid_len[b] - t only reads keys j <= i < n_b, so a causal kernel over
// the full L (dense) gives exact values on valid rows, and a varlen kernel over lengths n_b
// gives the same values without computing the rest. Invalid rows are the caller's business
// (finite garbage for dense kernels, zeros for varlen); in the backward the caller silences
// them with lse = +inf (p = 0), which is exact for every kernel here.
//
// CUDA kernels: FA2 (at::_flash_attention_forward/_backward, dense or varlen) and cuDNN
// (at::_scaled_dot_product_cudnn_attention(_backward), dense only: its varlen form gives wrong
// dq/dk in torch 2.11). cuDNN is the default where cudnn_block0_available() says so; see
// docs/flash-path.md for the choice and for the backward's layout trap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace attn::kern::detail {

enum class Block0Kernel {
  cpu_flash,          ///< at::_scaled_dot_product_flash_attention_for_cpu (+ _backward), native GQA
  cpu_flash_varlen,   ///< the same CPU kernel once per sequence over the packed valid tokens,
                      ///< with the LSE in FA2's varlen layout [H, total_q] (exercises the
                      ///< varlen packing on machines without a GPU)
  composed,           ///< explicit causal scores in the accumulation type (ATen matmul/logsumexp)
  cuda_flash_dense,   ///< at::_flash_attention_forward/_backward, [B, L, H, D] views, is_causal
  cuda_flash_varlen,  ///< the same ops with cu_seqlens from n_b, packed valid tokens only
  cuda_cudnn_dense,   ///< at::_scaled_dot_product_cudnn_attention(_backward), [B, H, L, D] with
                      ///< any strides, is_causal over the full L (padding: lse = +inf on invalid
                      ///< rows in the backward), native GQA; the backward always gets out,
                      ///< grad_out and lse in one fixed layout (cudnn_backward_out_strides)
};
std::string to_string(Block0Kernel k);

enum class Block0Preference { automatic, composed, varlen, fa2, cudnn };

/// The kernel block0_forward uses for this problem:
///   automatic: CPU -> cpu_flash; CUDA -> cuda_cudnn_dense where cudnn_block0_available(),
///              otherwise as fa2;
///   fa2:       CPU -> cpu_flash; CUDA -> cuda_flash_varlen when some batch element is padded
///              (and max n_b >= 2), cuda_flash_dense otherwise;
///   cudnn:     CPU -> cpu_flash; CUDA -> cuda_cudnn_dense (throws, saying why, when
///              cudnn_block0_available() is false);
///   varlen:    cpu_flash_varlen / cuda_flash_varlen whenever max n_b >= 2;
///   composed:  composed.
/// On CUDA, composed whenever L < 2 (FA2 swaps its layout for one query row; cuDNN refuses one
/// key) or the dtype is not bf16 / f16, whatever the preference.
Block0Kernel choose_block0(const at::Tensor& q, const std::vector<int64_t>& valid_len,
                           const std::vector<int64_t>& rows, Block0Preference preference);

/// Whether the cuDNN block-0 kernel can take a problem of this shape on this device. True iff:
/// a build with ATTN_WITH_CUDA; a CUDA device of compute capability 8.0 to 12.1 (the range
/// PyTorch's own cuDNN attention accepts); bf16 or f16; a PyTorch with cuDNN >= 9.0 at run time;
/// head_dim a multiple of 8 and <= 128 (<= 256 on compute capability 9.0 with cuDNN >= 9.10,
/// as PyTorch's check); L >= 2; B and H <= 65535; cuDNN and cuDNN attention not disabled
/// (at::globalContext().userEnabledCuDNN() / userEnabledCuDNNSDP()); and no request for
/// deterministic algorithms without warn_only (the cuDNN backward is not deterministic).
/// Otherwise `why` (when given) says which condition failed. Never throws.
bool cudnn_block0_available(const at::Device& device, at::ScalarType dtype, int64_t B, int64_t H,
                            int64_t L, int64_t D, std::string* why = nullptr);
/// The same for q [B, H, L, D].
bool cudnn_block0_available(const at::Tensor& q, std::string* why = nullptr);

struct Block0Forward {
  Block0Kernel kernel = Block0Kernel::composed;
  at::Tensor out0;  ///< [B, H, L, D], any strides; input dtype (acc type for composed)
  at::Tensor lse0;  ///< [B, H, L] acc type, finite on every row
  std::string lse_layout;  ///< layout the kernel returned its LSE in, e.g. "[H, total_q]"
  // Kernel state for block0_backward.
  at::Tensor cu_seqlens;      ///< varlen: int32 [B + 1]
  at::Tensor lse_raw;         ///< CUDA: the LSE as the kernel returned it
  at::Tensor rng_state, unused;  ///< FA2; for cuDNN its philox seed and offset (dropout 0: unused)
  int64_t max_q = 0;
  std::vector<int64_t> rows;  ///< n_b per batch element
};

/// q: [B, H, L, D]; k0, v0: [B, Hkv, L, D], all in the input dtype.
Block0Forward block0_forward(Block0Kernel kernel, const at::Tensor& q, const at::Tensor& k0,
                             const at::Tensor& v0, const std::vector<int64_t>& rows, double scale);

struct Block0Grads {
  at::Tensor dq;      ///< [B, H, L, D] (input dtype, acc type for composed)
  at::Tensor dk, dv;  ///< [B, Hkv, L, D], summed over the GQA groups
};

/// The block-0 backward taking probabilities p_ij = exp(s q_i.k0_j - lse_i) (causal) and
/// delta_i = g_i . out_i; out and lse: [B, H, L, D] and [B, H, L]. A row contributes exactly
/// nothing when its lse is +inf and its out is 0 (p = 0, delta = 0), whatever g holds there.
Block0Grads block0_backward(const Block0Forward& f, const at::Tensor& q, const at::Tensor& k0,
                            const at::Tensor& v0, const at::Tensor& g, const at::Tensor& out,
                            const at::Tensor& lse, double scale);

/// The one layout in which block0_backward hands out, grad_out and the LSE to the cuDNN
/// backward, whatever layout the caller's tensors have (copies are made only when needed):
///   out, grad_out: [B, L, H, D] storage seen as [B, H, L, D], strides (L H D, D, H D, 1): the
///                  layout projections give, so a training step's tensors pass without copies;
///   lse:           fp32 [B, H, L, 1] contiguous, strides (H L, L, 1, 1).
/// Why: PyTorch 2.11 caches the cuDNN backward graph under a key made of q, k, v (sizes and
/// strides), dropout and causality, but the graph also bakes in the strides of out, grad_out
/// and the LSE. A later call with the same q, k, v but another out / LSE layout silently reuses
/// the first call's graph and returns wrong gradients. One fixed layout makes every graph in the
/// cache right for every call.
std::vector<int64_t> cudnn_backward_out_strides(int64_t B, int64_t H, int64_t L, int64_t D);
std::vector<int64_t> cudnn_backward_lse_strides(int64_t B, int64_t H, int64_t L);

/// Test hook (kernels/tests/gpu/flash_gpu_test.cpp): the cuDNN backward with g, out and lse4
/// ([B, H, L, 1] fp32) passed exactly as given, without the fixed layout above. Exists only so
/// the GPU tests can show that the layout trap is real on the machine they run on; the flash
/// path never calls it.
Block0Grads cudnn_block0_backward_as_given(const Block0Forward& f, const at::Tensor& q,
                                           const at::Tensor& k0, const at::Tensor& v0,
                                           const at::Tensor& g, const at::Tensor& out,
                                           const at::Tensor& lse4, double scale);

}  // namespace attn::kern::detail

// Block 0 of the flash + LSE path: causal attention of the queries over the target prefix
// through a kernel that returns the log-sum-exp, and its backward given an arbitrary output and
// normaliser (the merged ones, for the correct backward).
//
// Every kernel here computes block 0 over a prefix that valid rows read in full and nothing
// else: row i < n_b = valid_len[b] - t only reads keys j <= i < n_b, so a causal kernel over
// the full L (dense) gives exact values on valid rows, and a varlen kernel over lengths n_b
// gives the same values without computing the rest. Invalid rows are the caller's business
// (finite garbage for dense kernels, zeros for varlen).
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
};
std::string to_string(Block0Kernel k);

enum class Block0Preference { automatic, composed, varlen };

/// The kernel block0_forward uses for this problem:
///   automatic: CPU -> cpu_flash; CUDA -> varlen when some batch element is padded (and
///              max n_b >= 2), dense otherwise;
///   varlen:    cpu_flash_varlen / cuda_flash_varlen whenever max n_b >= 2;
///   composed:  composed.
/// On CUDA, composed whenever L < 2 (FA2 swaps its layout for one query row) or the dtype is
/// not bf16 / f16.
Block0Kernel choose_block0(const at::Tensor& q, const std::vector<int64_t>& valid_len,
                           const std::vector<int64_t>& rows, Block0Preference preference);

struct Block0Forward {
  Block0Kernel kernel = Block0Kernel::composed;
  at::Tensor out0;  ///< [B, H, L, D], any strides; input dtype (acc type for composed)
  at::Tensor lse0;  ///< [B, H, L] acc type, finite on every row
  std::string lse_layout;  ///< layout the kernel returned its LSE in, e.g. "[H, total_q]"
  // Kernel state for block0_backward.
  at::Tensor cu_seqlens;      ///< varlen: int32 [B + 1]
  at::Tensor lse_raw;         ///< CUDA: the LSE as the kernel returned it
  at::Tensor rng_state, unused;
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

}  // namespace attn::kern::detail

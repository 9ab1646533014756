// "flash": the production flash + LSE path (docs/design.md, "The function"). Block 0 through a
// flash kernel that returns its LSE (kernels/detail/flash_block0.hpp), the singleton blocks and
// the LSE merge in fp32 (kernels/detail/singleton_merge.hpp), and a custom autograd backward
// that feeds the block-0 backward the merged output and the merged LSE.
#pragma once

#include <memory>

#include "kernels/backend.hpp"

namespace attn::kern {

struct FlashOptions {
  /// The block-0 kernel (kernels/detail/flash_block0.hpp, docs/flash-path.md):
  /// automatic: the device's fastest flash kernel: on CUDA cuDNN (dense, causal) where
  ///   detail::cudnn_block0_available() holds, otherwise as fa2; on the CPU its flash kernel;
  /// fa2: on CUDA FA2 (varlen when padded, dense otherwise); on the CPU its flash kernel;
  /// cudnn: cuDNN on CUDA (unsupported where unavailable and on the CPU);
  /// composed: explicit ATen ops; varlen: FA2's varlen form even without padding (on the CPU the
  /// CPU kernel once per sequence with FA2's packed layout).
  enum class Block0 { automatic, composed, varlen, fa2, cudnn };
  enum class Merge { automatic, composed, fused_cuda };
  Block0 block0 = Block0::automatic;
  Merge merge = Merge::automatic;     ///< automatic: fused on CUDA when available, else composed
  /// Defects on purpose ("mutants", the gate self-test's subjects; kernels/mutants.hpp has the
  /// catalogue and their names). Any defect forces the composed merge, so the fused CUDA kernels
  /// never see one; the block-0 kernel stays the device's.
  enum class Defect {
    none,
    block0_own_lse,           ///< the bug that shipped: block-0 backward with grad_out scaled by
                              ///< w0 = exp(lse0 - lse) and block 0's own out and LSE (the flash
                              ///< kernel's backward ignored the gradient reaching its LSE): dv0
                              ///< and the singletons stay right, dq and dk0 go wrong
    block0_own_lse_unweighted,  ///< as block0_own_lse without the w0 scaling (also breaks dv0)
    bf16_singleton_scores,    ///< singleton scores computed in bf16 (forward and backward)
    bf16_merged_lse,          ///< the merged LSE rounded to the input dtype (bf16) before the backward
    singleton_prev_position,  ///< singleton m reads k_m, v_m at position i - 1 (row 0: position 0)
    gqa_tiled,                ///< head h reads kv head h % Hkv (k.repeat, not repeat_interleave)
    drop_newest_block,        ///< cache blocks 0..t-1 only; block t gets no gradient
    unscaled_singletons,      ///< c_m = q_i . k_m,i without the softmax scale
    singleton_delta_from_block0,  ///< singleton backward with delta = g . out0 instead of g . out
    dk_first_group_head,      ///< singleton dk_m from the group's first query head only
    bf16_merge,               ///< singleton scores, merge and singleton gradients in the input dtype
    varlen_full_length,       ///< valid rows valid_len[b] instead of valid_len[b] - t
    no_singleton_dq,          ///< dq without the singleton term s sum_m dc_m k_m,i
    lse_log2_as_ln,           ///< block 0's LSE handed to the merge in base 2, read as natural
    unmasked_invalid_rows,    ///< forward leaves the merge's finite values on invalid rows
  };
  Defect defect = Defect::none;
};

/// The TTT steps of one training step sharing their singleton cache blocks. Pass one object to
/// FlashBackend::apply() for every step t = 0..T-1 of one forward, with the same k[m], v[m]
/// tensors for block m in every step (apply() checks: the same tensor, not modified in place;
/// anything else is an error). Then each singleton block has ONE autograd node for all steps,
/// and each step's backward writes (or adds) its dk_m, dv_m for every block straight into that
/// block's one gradient buffer, with the fused CUDA merge in one launch per step (dq and every
/// block in one pass over q, grad_out, out and lse); the block's node hands the buffer to
/// autograd once, after the last step of the backward pass that reads block m. Without it,
/// each step gets its own node per block, computed by one launch per block.
/// Not for concurrent backward passes over the same graph from several threads.
class FlashSharedBlocks {
 public:
  FlashSharedBlocks();
  ~FlashSharedBlocks();
  FlashSharedBlocks(const FlashSharedBlocks&) = delete;
  FlashSharedBlocks& operator=(const FlashSharedBlocks&) = delete;
  /// Singleton blocks with a shared node so far.
  int64_t shared_blocks() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

/// Invalid rows: exact zeros in out and lse, no gradient (grad_out zeroed there).
/// Supported: CPU in bf16 / f32 / f64; CUDA in bf16 with head_dim % 8 == 0 and <= 256 (the
/// block0 = cudnn option: where detail::cudnn_block0_available() holds).
class FlashBackend final : public Backend {
 public:
  explicit FlashBackend(FlashOptions options = {}, std::string name = "flash");
  std::string name() const override { return name_; }
  std::string description() const override;
  InvalidRows invalid_rows() const override { return InvalidRows::zeros; }
  Support supports(const data::CaseConfig& config, const at::Device& device) const override;
  /// Runs the forward through the autograd Function and the backward with grad_out;
  /// TorchOutputs::variant names the block-0 kernel (with its LSE layout) and the merge.
  TorchOutputs run(const TorchCase& c) const override;

  /// The flash + LSE attention as an autograd operation: returns {out, lse}; out is
  /// differentiable with respect to q, k[m], v[m] (lse is not). `variant` (optional) receives
  /// the kernels that ran. `shared` (optional): the training step's shared singleton blocks
  /// (see FlashSharedBlocks).
  static std::vector<at::Tensor> apply(const at::Tensor& q, const std::vector<at::Tensor>& k,
                                       const std::vector<at::Tensor>& v,
                                       const std::vector<int64_t>& valid_len, double scale,
                                       const FlashOptions& options, std::string* variant = nullptr,
                                       FlashSharedBlocks* shared = nullptr);

 private:
  /// apply() after a mutant's input views: valid rows from the case's t (`t_case`), which
  /// differs from k.size() - 1 when the drop-newest mutant passes fewer blocks.
  static std::vector<at::Tensor> apply_rows(const at::Tensor& q, const std::vector<at::Tensor>& k,
                                            const std::vector<at::Tensor>& v,
                                            const std::vector<int64_t>& valid_len, int64_t t_case,
                                            double scale, const FlashOptions& options,
                                            std::string* variant, FlashSharedBlocks* shared);

  FlashOptions options_;
  std::string name_;
};

}  // namespace attn::kern

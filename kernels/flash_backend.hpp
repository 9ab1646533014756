// "flash": the production flash + LSE path (../shared/DESIGN.md section 2). Block 0 through a
// flash kernel that returns its LSE (kernels/detail/flash_block0.hpp), the singleton blocks and
// the LSE merge in fp32 (kernels/detail/singleton_merge.hpp), and a custom autograd backward
// that feeds the block-0 backward the merged output and the merged LSE.
#pragma once

#include "kernels/backend.hpp"

namespace attn::kern {

struct FlashOptions {
  /// automatic: the device's flash kernel (on CUDA varlen when padded, dense otherwise);
  /// composed: explicit ATen ops; varlen: the varlen form even without padding (on the CPU the
  /// CPU kernel once per sequence with FA2's packed layout).
  enum class Block0 { automatic, composed, varlen };
  enum class Merge { automatic, composed, fused_cuda };
  Block0 block0 = Block0::automatic;
  Merge merge = Merge::automatic;     ///< automatic: fused on CUDA when available, else composed
  /// Defect on purpose (a "mutant"): the block-0 backward gets block 0's own output and LSE
  /// instead of the merged ones, the bug that once shipped. For tests and the gate self-test.
  bool block0_backward_uses_own_lse = false;
};

/// Invalid rows: exact zeros in out and lse, no gradient (grad_out zeroed there).
/// Supported: CPU in bf16 / f32 / f64; CUDA in bf16 with head_dim % 8 == 0 and <= 256.
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
  /// the kernels that ran.
  static std::vector<at::Tensor> apply(const at::Tensor& q, const std::vector<at::Tensor>& k,
                                       const std::vector<at::Tensor>& v,
                                       const std::vector<int64_t>& valid_len, double scale,
                                       const FlashOptions& options, std::string* variant = nullptr);

 private:
  FlashOptions options_;
  std::string name_;
};

}  // namespace attn::kern

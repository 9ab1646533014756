// "math-fp64" / "math-fp32": LibTorch autograd over the dense explicit-mask form of the TTT
// attention (docs/design.md, "The function"), inputs converted up to fp64 or fp32. An
// implementation of the truth independent of the Eigen reference (references/).
#pragma once

#include "kernels/backend.hpp"

namespace attn::kern {

/// Boolean mask over the concatenated cache [B, 1, L, (t + 1) L]: causal on block 0, diagonal
/// on blocks 1..t, valid rows only; masked_fill -inf and a softmax that gives 0 on fully masked
/// rows. Outputs (out, lse, every gradient) in the compute type; invalid rows are exact zeros.
class MathBackend final : public Backend {
 public:
  explicit MathBackend(at::ScalarType compute);  ///< at::kDouble or at::kFloat
  std::string name() const override;
  std::string description() const override;
  InvalidRows invalid_rows() const override { return InvalidRows::zeros; }
  Support supports(const data::CaseConfig& config, const at::Device& device) const override;
  TorchOutputs run(const TorchCase& c) const override;

 private:
  at::ScalarType compute_;
};

}  // namespace attn::kern

// Row validity and small tensor helpers shared by the backends (docs/design.md, "The
// function": row i of batch element b is valid iff i < valid_len[b] - t).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "kernels/backend.hpp"

namespace attn::kern::detail {

/// Valid query rows per batch element: max(0, min(L, valid_len[b]) - t).
std::vector<int64_t> valid_rows(const std::vector<int64_t>& valid_len, int64_t L, int64_t t);
inline std::vector<int64_t> valid_rows(const TorchCase& c) {
  return valid_rows(c.valid_len_host, c.config.L, c.config.t);
}

/// [B, 1, L] bool on `device`: true where row i of batch element b is valid.
at::Tensor valid_row_mask(const std::vector<int64_t>& rows, int64_t L, const at::Device& device);

/// The type the merge and the analytic gradients accumulate in: fp64 for fp64 inputs, else fp32.
inline at::ScalarType acc_type(at::ScalarType input) {
  return input == at::kDouble ? at::kDouble : at::kFloat;
}

/// The most negative finite value of a floating type (torch.finfo(dtype).min).
double finfo_min(at::ScalarType t);

}  // namespace attn::kern::detail

// The context of one query row, for `attn-harness inspect`: is it valid, its reference LSE,
// its largest logit, and the weights of its singleton keys (docs/design.md, "The function").
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/case.hpp"

namespace attn::report {

struct RowContext {
  int64_t b = 0, h = 0, i = 0;
  bool valid = false;        ///< i < valid_len[b] - t
  int64_t valid_rows = 0;    ///< valid_len[b] - t (>= 0)
  double lse = 0;            ///< reference lse of the row (0 on invalid rows)
  double max_logit = 0;      ///< s * max(max_{j<=i} q_i.k0_j, max_m q_i.k_m,i), fp64 from the inputs
  double max_weight = 0;     ///< exp(max_logit - lse): the largest attention weight (valid rows)
  std::vector<double> singleton_logits;  ///< c_im, m = 1..t
  std::vector<double> singleton_weights; ///< pi_im = exp(c_im - lse), m = 1..t (valid rows)
};

/// `reference_lse` is the reference's lse of the row. Throws InputError when b, h or i is out
/// of range.
RowContext row_context(const data::CaseInputs& in, double reference_lse, int64_t b, int64_t h,
                       int64_t i);

}  // namespace attn::report

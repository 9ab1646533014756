// The obviously-correct fp64 reference: an explicit boolean mask over the concatenated cache
// [B, 1, L, (t+1) L] (causal on block 0, diagonal on blocks 1..t, valid rows only) and plain
// masked softmax attention with its textbook backward. O(L^2 t) memory per head: test sizes only.
#pragma once

#include "references/ttt_problem.hpp"

namespace attn::ref {

/// The mask of the TTT function (docs/design.md) for batch element b, row-major [L, (t+1) L]:
/// entry (i, m L + j) is true iff row i is valid and (m == 0 ? j <= i : j == i).
std::vector<bool> dense_mask(const TttInputs& in, int64_t b);

/// Forward and (if grad_out is set) backward through the dense masked form.
TttResult dense_reference(const TttInputs& in);

}  // namespace attn::ref

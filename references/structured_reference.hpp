// The TTT-aware fp64 reference: causal prefix plus one singleton key per cache block, blocked
// over query tiles so working memory is O(L * tile) per thread, causal tiles above the diagonal
// never computed, threaded over (batch, kv head). Forward and backward in one pass per tile
// (row i's out and lse depend on row i only, so the backward of a tile needs nothing else).
#pragma once

#include <functional>

#include "references/ttt_problem.hpp"

namespace attn::ref {

struct StructuredOptions {
  int64_t tile = 128;  ///< query rows per tile
  int threads = 0;     ///< 0: OpenMP default
  /// Called from the calling thread only, with (work units done, total units); may be empty.
  /// A work unit is one (batch element, kv head). The last call is (total, total). An exception
  /// it throws skips the remaining units and is rethrown to the caller (the result is partial).
  std::function<void(int64_t, int64_t)> progress;
};

/// Same contract and results as dense_reference; agrees with it to ~1e-13 relative. Bitwise
/// reproducible: the result does not depend on the thread count or on the buffers' addresses
/// (it does depend on `tile`, at the last-bit level).
TttResult structured_reference(const TttInputs& in, const StructuredOptions& opt = {});

/// As above, writing into `result`, which must be sized as TttResult::zeros(in.shape)
/// (std::invalid_argument otherwise); every element is overwritten, stale contents are fine.
/// Lets a caller own (and measure) the result memory separately from the working memory.
void structured_reference_into(const TttInputs& in, TttResult& result,
                               const StructuredOptions& opt = {});

/// Useful floating-point operations of forward + backward without recomputation, summed over
/// (b, h) with n = valid rows: 12 D (n (n + 1) / 2 + n t). That is six products of 2 D flops per
/// causal (row, key) pair (scores, P V, dP = G V^T, dQ, dK, dV) and per (row, singleton).
double structured_flops(const TttInputs& in);

}  // namespace attn::ref

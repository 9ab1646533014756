// The TTT-aware fp64 reference: causal prefix plus one singleton key per cache block, computed
// in square tiles of `tile` rows (query tiles) by `tile` keys (key tiles) over the valid rows
// only, tiles above the diagonal never formed. Working memory is O(L * tile) per thread plus,
// for the split schedule, three [B, H, L] row statistics (max logit, softmax sum, delta).
//
// Work is spread over OpenMP threads in one of two schedules (StructuredSchedule); both give
// the same bits, so the result does not depend on which one runs, on the thread count, or on
// where the caller's buffers lie:
//   - fused: one unit per (batch element, kv head), forward and backward of the group's query
//     heads in one pass (six tile products per (query tile, key tile) pair);
//   - split: phase A, one unit per (batch element, query head, query tile): out, lse, delta and
//     dq of the tile's rows, which depend on those rows only; then phase B, one unit per
//     (batch element, kv head, key tile): dk0, dv0 of the tile's keys from every later query
//     tile of every head of the group, and dk_m, dv_m (m >= 1) of the tile's rows. Phase B
//     recomputes the scores and dP of its tile pairs from the row statistics phase A stored
//     (eight tile products per pair instead of six), in exchange for B * H * (n / tile) and
//     B * Hkv * (n / tile) units that keep every core busy when B * Hkv is small.
// Units write disjoint memory (no atomics, no reductions across threads).
#pragma once

#include <functional>

#include "references/ttt_problem.hpp"

namespace attn::ref {

enum class StructuredSchedule {
  automatic,  ///< the one with the shorter estimated wall time on this call's thread count
  fused,      ///< units (b, kv head)
  split,      ///< phase A units (b, h, query tile), phase B units (b, kv head, key tile)
};

struct StructuredOptions {
  int64_t tile = 128;  ///< rows per query tile = keys per key tile
  /// Threads of the OpenMP team (at most one per unit). 0: the OpenMP default, or fewer for
  /// small problems (about 4 MFLOP of useful work per thread at least).
  int threads = 0;
  /// Called from the calling thread only, with (work units done, total units); may be empty.
  /// Units are those of the schedule that runs: a (batch element, kv head) for fused; for split,
  /// a (batch element, query head, query tile) of phase A or a (batch element, kv head, key
  /// tile) of phase B, total counting both phases. Only batch elements with valid rows have
  /// units (total is 0 when there is none). The last call is (total, total). An exception it
  /// throws skips the remaining units and is rethrown to the caller (the result is partial).
  std::function<void(int64_t, int64_t)> progress;
  /// Which decomposition runs. The results are bitwise the same for every value; this only
  /// changes the speed (and exists so tests and benchmarks can pin one).
  StructuredSchedule schedule = StructuredSchedule::automatic;
};

/// Same contract and results as dense_reference; agrees with it to ~1e-13 relative. Bitwise
/// reproducible: the result does not depend on the thread count, on the schedule or on the
/// buffers' addresses (it does depend on `tile`, at the last-bit level).
TttResult structured_reference(const TttInputs& in, const StructuredOptions& opt = {});

/// As above, writing into `result`, which must be sized as TttResult::zeros(in.shape)
/// (std::invalid_argument otherwise); every element is overwritten, stale contents are fine.
/// Lets a caller own (and measure) the result memory separately from the working memory.
void structured_reference_into(const TttInputs& in, TttResult& result,
                               const StructuredOptions& opt = {});

/// Useful floating-point operations of forward + backward, summed over (b, h) with n = valid
/// rows: 12 D (n (n + 1) / 2 + n t). That is six products of 2 D flops per causal (row, key)
/// pair (scores, P V, dP = G V^T, dQ, dK, dV) and per (row, singleton). It does not count what
/// the implementation spends beyond that: the masked upper half of diagonal tiles, and under
/// the split schedule the recomputed scores and dP of phase B (about 8/6 of the useful work on
/// the causal part). A GFLOP/s figure made from it is a useful-work rate.
double structured_flops(const TttInputs& in);

}  // namespace attn::ref

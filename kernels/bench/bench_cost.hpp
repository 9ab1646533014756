// The estimated GPU time of one attn-bench benchmark, the cost by which --shard balances its
// shards (docs/benchmarks.md, "Sharding the nightly run").
//
// The model is fitted to the H100 reference run (reports/h100/2026-11-24-nightly, FA2 on block
// 0, 80 GB) and is meant as an upper bound for an H200 (cuDNN on block 0, faster memory):
//   flash*, floor*  compute-bound: step time = useful FLOPs / 260 TFLOP/s + a launch overhead
//                   per TTT step (0.6 ms; 0.2 ms for fwd). Fitted within +-30 % at L >= 16K.
//   sdpa            memory-bound on its explicit [L, L + t] scores (O(L^2) per head and step,
//                   whatever the valid lengths): step time = k_w x sum over the timed steps of
//                   B H L^2 (1 + 0.2 t) + 0.5 ms per step, k_w per workload. Fitted within
//                   +-15 % (train_step) and +-33 % (fwd, bwd).
// A benchmark runs `warmup` untimed steps, then per repetition `iterations` timed steps (a bwd
// step also runs its forward, untimed) and one more warm-up from the second repetition on, plus
// 0.03 s of set-up per repetition.
//
// sdpa's memory (the scores and what autograd keeps of them) is B H L^2 x 16 + 6.2 (T - 1) bytes
// for train_step, 12 (T = 1) or 14.2 bytes for fwd, and that plus 10 bytes for bwd (fitted to the
// H100's peak_mem_GiB, exact to 5 %). Where that exceeds 1.25x the device memory the benchmark is
// predicted to run out of memory at its first step (cost: 1 s); between the device memory and
// 1.25x it is charged in full, so an uncertain prediction errs on the long side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attn::bench {

struct BenchShape {
  std::string workload, backend;   ///< as in the benchmark name
  int64_t H = 0, Hkv = 0, D = 0, L = 0, T = 0;
  std::vector<int64_t> valid_len;  ///< one per sequence (B = its size)
};

struct BenchRuns {
  int64_t warmup = 2, repetitions = 3, iterations = 1;  ///< iterations per repetition
};

/// Estimated time of one timed step in ms (model above, no memory limit).
double estimate_step_ms(const BenchShape& s);

/// sdpa's estimated memory in GiB (0 for the other backends: far below any device's).
double estimate_memory_gib(const BenchShape& s);

/// Estimated seconds of the whole benchmark (warm-ups, repetitions, set-up; 1 s when predicted
/// to run out of `device_memory_gib`).
double estimate_seconds(const BenchShape& s, const BenchRuns& runs, double device_memory_gib);

/// Estimated seconds of attn-bench's own start (CUDA context, the GEMM reference) per process.
constexpr double kProcessStartSeconds = 10.0;

}  // namespace attn::bench

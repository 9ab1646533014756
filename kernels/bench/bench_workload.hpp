// What each attn-bench workload computes: its batch, the valid length of each sequence, the
// number of TTT steps it times and its useful FLOPs (the TFLOPS counter and the cost model).
//
//   train_step         T TTT steps (forward of steps 0..T-1, then one backward), B = --batch,
//                      no padding.
//   fwd, bwd           the forward / the backward of step T - 1 alone, B = --batch, no padding.
//   train_step_padded  train_step over a padded (varlen) batch: B = 2 x --batch, sequences in
//                      pairs, the first of each pair full (valid_len L), the second right-padded
//                      by L/8 (valid_len L - L/8).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attn::bench {

/// Every workload attn-bench knows, in the order of its default grid.
const std::vector<std::string>& all_workloads();
bool is_workload(const std::string& w);

/// True for the workloads whose batch holds padded sequences.
bool is_padded(const std::string& workload);

/// The unpadded workload whose steps it times ("train_step" for "train_step_padded").
std::string base_workload(const std::string& workload);

/// valid_len of every sequence of the batch (its size is B) for a `batch` (--batch) and L.
std::vector<int64_t> valid_lengths(const std::string& workload, int64_t batch, int64_t L);

/// TTT steps in one timed run: T for train_step(_padded), 1 for fwd and bwd.
int64_t timed_steps(const std::string& workload, int64_t T);

/// Useful FLOPs of one forward step t over one sequence of n valid tokens: causal attention over
/// the prefix (4 H n^2 D / 2) plus t singleton keys per row (4 H n D t).
double step_forward_flops(int64_t H, int64_t n, int64_t D, int64_t t);

/// Useful FLOPs of one timed run: summed over the sequences (each at its valid length), the
/// backward counted 2.5x a forward; `floor` backends have no singleton terms.
double workload_flops(const std::string& workload, bool floor, const std::vector<int64_t>& valid_len,
                      int64_t H, int64_t D, int64_t T);

}  // namespace attn::bench

// Benchmarks that did not run, grouped so that a page shows one line per pattern instead of one
// row per benchmark with its raw message:
//
//   "sdpa: OOM at L ≥ 8K (train step; llama3-8b-mha, llama3-8b at T 7; gpt-oss-20b at T 3/7; 12 benchmarks)"
//
// A series is one (workload, backend, preset, T); its failed L with one status are described
// against the L measured in that series: "L ≥ 8K" when every measured L from 8K up failed,
// "every L" when all did, else the list ("L = 8K, 32K"). Series with the same backend, status,
// workload and description form a group; within it, presets with the same set of T are named
// together. Benchmarks outside the name scheme form groups of their own ("at" empty).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reports/performance/perf_results.hpp"
#include "reports/performance/perf_tables.hpp"

namespace attn::report {

struct FailureGroup {
  std::string backend, workload;  ///< backend "" for names outside the scheme (workload = the name)
  RunStatus status = RunStatus::error;
  std::string at;                 ///< "L ≥ 8K", "every L", "L = 8K, 32K"
  std::int64_t first_L = 0;       ///< the smallest failed L (for ordering)
  /// Presets with the same T set, in run order: {"llama3-8b-mha, llama3-8b", {7}}.
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> where;
  int benchmarks = 0;
  std::string message;            ///< the message at the smallest failed L (the cause, not "skipped")
};

/// The description of the L at which (workload, backend, preset, T) failed with `status`
/// ("L ≥ 8K", "every L", "L = 8K, 32K"), "" when none did.
std::string failed_L_text(const PerfRun& run, const std::string& workload, const std::string& backend,
                          const std::string& preset, std::int64_t T, RunStatus status);

/// Every failed benchmark in exactly one group; ordered by backend, status, workload, first L.
std::vector<FailureGroup> group_failures(const PerfRun& run);

/// "sdpa: OOM at L ≥ 8K (train step; llama3-8b-mha at T 1/3/7; 9 benchmarks)".
std::string failure_group_text(const FailureGroup& g);
/// The same with its cause cut to one short line: "...; 9 benchmarks): OOM: CUDA out of memory. …"
std::string failure_group_line(const FailureGroup& g, std::size_t cause_chars = 60);
/// What the grouped lines mean (one paragraph).
std::string failure_groups_legend();

/// `message` on one line, cut to at most `max_chars` characters (UTF-8 safe) with "…" when
/// cut; with `first_sentence`, a message too long is cut after its first sentence when that
/// fits ("OOM: CUDA out of memory. …").
std::string short_message(const std::string& message, std::size_t max_chars = 80, bool first_sentence = false);

/// One row per failed benchmark with its message cut to `max_chars` (for a collapsed section).
PerfTable failure_messages_table(const PerfRun& run, std::size_t max_chars = 120);

}  // namespace attn::report

// A run against a previous run: per benchmark present in both, the median step time old/new,
// the change, the noise and a verdict.
//
// Rule (docs/benchmarks.md, "Comparing nights"). Step times are compared through their
// same-run controls (perf_controls.hpp) when both runs have them: c = the controlled time
// (time / control), change = ln(c_new / c_old), and sigma = the noise of that change:
// sqrt(2) x the noise between runs of that benchmark (perf_noise.hpp, when a noise file is
// given: each run is one draw) or else the within-run noise of the two controlled times (their
// relative stddevs combined). A regression iff change >
// noise_factor * sigma and c_new / c_old - 1 > min_change; an improvement symmetrically; else
// within noise. Without controls, the raw times: d = new - old against noise =
// max(stddev_old, stddev_new) the same way. With fewer than two repetitions and no noise file
// the noise is unknown and no time verdict is given. Peak memory (no control: it does not
// depend on the machine's speed): the raw rule with the repetitions' spread (max - min) as
// noise, and changes of at most min_memory_gib ignored. A benchmark that ran before and is now
// OOM or failing is always flagged.
#pragma once

#include <string>
#include <vector>

#include "reports/performance/perf_results.hpp"

namespace attn::report {

struct CrossRunNoise;

struct CompareRule {
  double noise_factor = 2.0;  ///< a change must exceed this many noise units...
  double min_change = 0.01;   ///< ...and this fraction of the old value
  double min_memory_gib = 0.01;  ///< peak memory: changes up to this are allocator noise
  bool use_controls = true;   ///< compare controlled times where both runs have the control
  const CrossRunNoise* noise = nullptr;  ///< the measured noise between runs (null: within-run)
};

enum class Verdict {
  within_noise,
  regression,
  improvement,
  noise_unknown,   ///< fewer than two repetitions in a run: no claim
  newly_oom,       ///< ran before, OOM now (flagged)
  newly_failing,   ///< ran before, unsupported or error now (flagged)
  now_runs,        ///< failed before, runs now
  still_failing,
  not_run,         ///< not run in one of the two runs (its time budget): nothing to compare
};
const char* verdict_name(Verdict v);   ///< "regression", "within noise", "newly OOM", ...
bool is_flagged_bad(Verdict v);        ///< regression, newly OOM, newly failing

struct PerfChange {
  BenchKey key;
  const PerfResult* old_result = nullptr;
  const PerfResult* new_result = nullptr;
  double old_ms = 0, new_ms = 0, change_pct = 0, noise_ms = 0, threshold_ms = 0;  ///< NaN if n/a
  /// Through the control (when `control` is not empty): the controlled times, their change in
  /// percent, the noise (sigma of the log ratio) and where it comes from.
  std::string control;          ///< "floor-sdpa", "gemm" or "" (raw times judged)
  double old_controlled = 0, new_controlled = 0, controlled_change_pct = 0, sigma = 0;
  std::string noise_source;     ///< "between runs" (own sigma), "between runs (pool of L)", "between runs
                                ///< (GEMM pool of L)", "between runs (default)", "within run", "repetitions"
  Verdict time = Verdict::within_noise;
  double old_mem_gib = 0, new_mem_gib = 0, mem_change_pct = 0;  ///< NaN if n/a
  Verdict memory = Verdict::within_noise;  ///< within_noise, regression or improvement
  bool flagged_bad() const { return is_flagged_bad(time) || memory == Verdict::regression; }
};

struct PerfComparison {
  CompareRule rule;
  std::vector<PerfChange> changes;   ///< benchmarks present in both runs, in key order
  std::vector<BenchKey> only_old;    ///< gone from the new run
  std::vector<BenchKey> only_new;    ///< new benchmarks
  int regressions = 0;               ///< changes flagged bad (time, memory, OOM, failing)
  int improvements = 0;              ///< time or memory improvements and benchmarks that now run
  /// Set when the noise file was measured from both runs compared: its sigmas come from their own
  /// differences, so the verdicts are no evidence; the report says so.
  std::string noise_note;
};

/// The verdict for one pair of step times (ms) with their noise (NaN when not measured).
Verdict judge_change(double old_v, double new_v, double noise, const CompareRule& rule);

/// The verdict for a pair of controlled times with sigma the noise of ln(new / old).
Verdict judge_controlled(double old_c, double new_c, double sigma, const CompareRule& rule);

PerfComparison compare_runs(const PerfRun& old_run, const PerfRun& new_run, const CompareRule& rule = {});

}  // namespace attn::report

// The harness's own speed, tracked like the kernels': the JSON scripts/time_to_verdict.py
// writes (schema "attn-harness.time-to-verdict/1" or "/2"; docs/benchmarks.md, "The harness's
// own speed") read into a table "time to a verdict on a realistic case", and compared with the
// previous night's file of the same case.
//
// Rule for a step (and the total): with m the median of a step's repetitions,
//   slower   when m_new / m_old - 1 > 20 % and, where both runs have two or more repetitions,
//            the new run's fastest repetition is slower than the old run's slowest (their
//            ranges do not overlap: a slower night within the spread is not flagged);
//   faster   symmetrically (m_old / m_new - 1 > 20 %, ranges apart);
//   peak memory larger / smaller when it changes by more than 20 % and 0.05 GiB;
//   not compared when the case or the machine (CPU model, cores, GPU) differ.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "reports/performance/perf_tables.hpp"

namespace attn::report {

struct HarnessStep {
  std::string name;               ///< generate, reference, run, gate, inspect
  double seconds = 0;             ///< median of the repetitions
  std::vector<double> samples;    ///< one per repetition (schema 1: the one value)
  double max_rss_gib = 0;         ///< largest peak resident memory over the repetitions
  int exit_code = 0;
};

struct HarnessTiming {
  std::string source;             ///< the file as the report names it (never absolute)
  int schema = 0;                 ///< 1 or 2
  std::string preset, pad, device, backends, date;
  std::string commit;             ///< what attn-harness --version prints: "0.1.0 (cc61e3619bf2)"
  std::int64_t L = 0, B = 0, t = 0;
  int repeat = 1;
  std::vector<HarnessStep> steps;
  double total_seconds = 0;
  double case_gib = 0;
  std::string cpu, machine, gpu;
  int cores = 0;
  /// "llama3-8b, L 4096, B 2, t 6, pad 0,512, cuda: sdpa,flash"
  std::string case_label() const;
  /// "AMD EPYC 9654 (16 cores, x86_64), NVIDIA H200"
  std::string machine_label() const;
};

/// True when `path` holds a JSON object whose "schema" starts with "attn-harness.time-to-verdict/".
bool is_harness_timing_file(const std::filesystem::path& path);

/// Reads one file; `display` is how the report names it. data::InputError naming the file and
/// the key that is missing or wrong (expected vs found).
HarnessTiming load_harness_timing(const std::filesystem::path& path, const std::string& display);

enum class TimingVerdict { same, slower, faster, not_compared };
const char* timing_verdict_name(TimingVerdict v);  ///< "within 20 %", "slower", "faster", "not compared"

struct TimingChange {
  std::string step;                  ///< a step name or "total"
  double old_s = 0, new_s = 0, change_pct = 0;
  TimingVerdict time = TimingVerdict::not_compared;
  double old_gib = 0, new_gib = 0;
  TimingVerdict memory = TimingVerdict::not_compared;
};

/// Why two files are not comparable ("" when they are): a different case or machine.
std::string harness_mismatch(const HarnessTiming& before, const HarnessTiming& now);
/// Per step of `now` (and the total), the change against `before` under the rule above.
std::vector<TimingChange> compare_harness(const HarnessTiming& before, const HarnessTiming& now);
/// The time verdict for one step's repetitions (medians and ranges), as the rule says.
TimingVerdict judge_step_time(const std::vector<double>& old_samples, const std::vector<double>& new_samples);

/// The table of one file: per step seconds (median, range over repetitions), peak memory, and
/// with `before` its seconds, the change and the verdict.
PerfTable harness_timing_table(const HarnessTiming& now, const HarnessTiming* before);

/// Slower steps (time or memory) of `now` against `before`: what --fail-on-regression counts.
int harness_regressions(const HarnessTiming& before, const HarnessTiming& now);

}  // namespace attn::report

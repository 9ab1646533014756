// `attn-harness report`: Google Benchmark JSON in, report.html + report.md + charts/ out.
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "reports/performance/perf_compare.hpp"
#include "reports/performance/perf_report_view.hpp"
#include "reports/performance/perf_results.hpp"

namespace attn::report {

struct PerfReportOptions {
  /// Merged in order; files whose JSON is a time-to-verdict document (perf_harness_timing.hpp)
  /// are taken as `harness_timing` (before those given there).
  std::vector<std::string> inputs;
  /// The previous run's files, merged in order; empty: no comparison. Files whose JSON is a
  /// time-to-verdict document (perf_harness_timing.hpp) are the previous harness timing.
  std::vector<std::string> previous;
  std::vector<std::string> harness_timing;  ///< time-to-verdict JSON files (scripts/time_to_verdict.py)
  std::filesystem::path out_dir;      ///< created when missing
  std::string title;                  ///< empty: "Attention benchmarks: <device>, <date>"
  bool charts = true;                 ///< false: no gnuplot, no charts
  CompareRule rule;
  std::string generated_by;
};

struct PerfReportOutcome {
  std::unique_ptr<PerfRun> run, previous;      ///< stable addresses: `comparison` points into them
  std::unique_ptr<PerfComparison> comparison;  ///< null without previous
  std::vector<std::filesystem::path> files;    ///< everything written
  std::vector<HarnessTimingView> harness;      ///< per --harness-timing file, with its previous
  int harness_regressions = 0;                 ///< slower harness steps (time or memory)
  int charts = 0;
  std::filesystem::path html, markdown;
};

/// Reads, compares, draws and writes. Every file is written atomically. Input paths appear in
/// the pages relative to the output folder (perf_paths.hpp), times in UTC. Progress and notes
/// go to `log`. Throws data::InputError for bad input (and a missing gnuplot), std::runtime_error
/// when gnuplot fails.
PerfReportOutcome write_perf_report(const PerfReportOptions& options, std::ostream& log);

}  // namespace attn::report

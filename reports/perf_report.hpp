// `attn-harness report`: Google Benchmark JSON in, report.html + report.md + charts/ out.
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "reports/perf_compare.hpp"
#include "reports/perf_results.hpp"

namespace attn::report {

struct PerfReportOptions {
  std::vector<std::string> inputs;    ///< merged in order
  std::vector<std::string> previous;  ///< merged in order; empty: no comparison
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
  int charts = 0;
  std::filesystem::path html, markdown;
};

/// Reads, compares, draws and writes. Every file is written atomically. Progress and notes go
/// to `log`. Throws data::InputError for bad input (and a missing gnuplot), std::runtime_error
/// when gnuplot fails.
PerfReportOutcome write_perf_report(const PerfReportOptions& options, std::ostream& log);

}  // namespace attn::report

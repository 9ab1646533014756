// Everything the Markdown and HTML writers show: one run, optionally its comparison with a
// previous run, and the rendered charts.
#pragma once

#include <string>
#include <vector>

#include "reports/perf_charts.hpp"
#include "reports/perf_compare.hpp"
#include "reports/perf_results.hpp"

namespace attn::report {

struct PerfReportView {
  std::string title;
  const PerfRun* run = nullptr;
  const PerfRun* previous = nullptr;             ///< null without --previous
  const PerfComparison* comparison = nullptr;    ///< null without --previous
  std::vector<RenderedChart> charts;             ///< empty with --no-charts
  std::string chart_dir = "charts";              ///< charts' folder relative to the report
  std::string generated_by;                      ///< "attn-harness 0.1.0 (commit)"
};

}  // namespace attn::report

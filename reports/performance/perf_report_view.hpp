// Everything the Markdown and HTML writers show: one run, optionally its comparison with a
// previous run, the rendered charts and the harness's own timing. Paths in it are already as
// the page shows them (perf_paths.hpp: never absolute).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/performance/perf_charts.hpp"
#include "reports/performance/perf_compare.hpp"
#include "reports/performance/perf_harness_timing.hpp"
#include "reports/performance/perf_results.hpp"

namespace attn::report {

/// One time-to-verdict file and the previous run's file of the same case, if any.
struct HarnessTimingView {
  HarnessTiming now;
  std::optional<HarnessTiming> before;
};

struct PerfReportView {
  std::string title;
  const PerfRun* run = nullptr;
  const PerfRun* previous = nullptr;             ///< null without --previous
  const PerfComparison* comparison = nullptr;    ///< null without --previous
  std::vector<RenderedChart> charts;             ///< empty with --no-charts
  std::string chart_dir = "charts";              ///< charts' folder relative to the report
  std::string generated_by;                      ///< "attn-harness 0.1.0 (commit)"
  std::vector<HarnessTimingView> harness;        ///< --harness-timing files, in order
  int harness_regressions = 0;                   ///< slower steps against the previous files
};

}  // namespace attn::report

// The performance report as one self-contained HTML page (report.html): inline CSS, charts as
// inline SVG, no scripts, fonts or links to fetch; opens offline.
#pragma once

#include <string>

#include "reports/performance/perf_report_view.hpp"
#include "reports/performance/perf_tables.hpp"

namespace attn::report {

std::string perf_html(const PerfReportView& view);
/// "&lt;", "&amp;", "&quot;" ...
std::string html_escape(const std::string& text);

}  // namespace attn::report

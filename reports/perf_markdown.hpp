// The performance report as Markdown (report.md): headline, changes vs the previous run,
// per-preset latency/memory, throughput and TTT-overhead tables, flex compile time, failures.
#pragma once

#include <string>

#include "reports/perf_report_view.hpp"
#include "reports/perf_tables.hpp"

namespace attn::report {

std::string perf_markdown(const PerfReportView& view);
/// One table as a GitHub Markdown table (title as "### ", note as a paragraph). Bad cells bold.
std::string markdown_table(const PerfTable& table, const std::string& heading = "###");

}  // namespace attn::report

// The performance report as Markdown (report.md), readable on GitHub: the verdict per preset as
// sentences and the compact headline table, the run, changes vs the previous run, the
// harness's own speed, per-preset latency/memory, throughput and TTT-overhead tables, flex
// compile time, and the benchmarks that did not run, grouped.
#pragma once

#include <string>

#include "reports/performance/perf_report_view.hpp"
#include "reports/performance/perf_tables.hpp"

namespace attn::report {

std::string perf_markdown(const PerfReportView& view);
/// One table as a GitHub Markdown table (title as "### ", note as a paragraph). Bad cells bold.
std::string markdown_table(const PerfTable& table, const std::string& heading = "###");

}  // namespace attn::report

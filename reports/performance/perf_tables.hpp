// The tables of the performance report, built once and rendered by both the Markdown and the
// HTML writer (perf_markdown.hpp, perf_html.hpp).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "reports/performance/perf_compare.hpp"
#include "reports/performance/perf_results.hpp"

namespace attn::report {

enum class CellTone { plain, bad, good, muted };

struct PerfCell {
  std::string text;
  CellTone tone = CellTone::plain;
};

struct PerfTable {
  std::string title;
  std::string note;  ///< one paragraph under the title (plain text)
  std::vector<std::string> header;
  std::vector<std::vector<PerfCell>> rows;
};

/// The table as CSV (RFC 4180): the header, then one line per row with every cell's text as
/// shown on the page; a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_of(const PerfTable& t);

/// The TTT length the charts and headline use for a preset: 7 if train_step has it, else the
/// largest T of its train_step benchmarks (of any workload when there is no train_step).
std::int64_t chosen_T(const PerfRun& run, const std::string& preset);
/// Sorted distinct values of L (or T) among the structured benchmarks matching the filter.
std::vector<std::int64_t> distinct_L(const PerfRun& run, const std::string& preset, const std::string& workload, std::int64_t T);
std::vector<std::int64_t> distinct_T(const PerfRun& run, const std::string& preset, const std::string& workload);
/// Backends present for a preset, in report order (perf_palette.hpp, known_backends; others
/// after them, sorted).
std::vector<std::string> backends_of(const PerfRun& run, const std::string& preset);

/// "96 benchmarks: 90 ok, 4 OOM, 2 unsupported" (zero counts left out).
std::string run_counts(const PerfRun& run);
/// The number of benchmarks of each status, indexed by int(RunStatus).
std::array<int, kRunStatusCount> status_counts(const PerfRun& run);
/// The cell of a benchmark that did not run: its status, muted when it is unsupported or not
/// run (nothing the kernel did), else marked bad.
PerfCell failed_cell(const PerfResult& r);
/// "1K", "32K", "1536".
std::string short_L(std::int64_t L);
/// Step time with sensible digits: "0.123", "4.56", "46.1", "1234".
std::string format_ms(double ms);

/// train_step at the chosen T: rows preset x backend, columns L, cells "46.1 ms · 1.0 GiB" or OOM
/// (every number; the page's headline is the verdict, perf_verdict.hpp).
PerfTable headline_table(const PerfRun& run);
/// One preset: rows L, columns step time (median ± stddev) and peak memory per backend.
PerfTable latency_memory_table(const PerfRun& run, const std::string& preset);
/// One preset: rows L, columns TFLOP/s and % of GEMM per backend.
PerfTable throughput_table(const PerfRun& run, const std::string& preset);
/// One preset: rows L, columns workload x T, cells flash / floor step-time ratio.
PerfTable overhead_table(const PerfRun& run, const std::string& preset);
/// flex benchmarks with compile_s: compile time beside the step time.
PerfTable compile_table(const PerfRun& run);
/// Every benchmark: status, median, stddev, cv, repetitions, min, max, counters.
PerfTable all_benchmarks_table(const PerfRun& run);
/// Input files and their context (device, torch, commit, date in UTC, host, GEMM rate).
PerfTable sources_table(const PerfRun& run);
/// Changes vs the previous run: flagged ones first. `max_quiet_rows` limits the rows that are
/// within noise / still failing (-1: all); the note says how many were left out.
PerfTable change_table(const PerfComparison& cmp, int max_quiet_rows = -1);

}  // namespace attn::report

// The report's charts: what each one plots (ChartSpec, built from a PerfRun), the gnuplot
// script and data file that draw it, and rendering to SVG through gnuplot.
//
// Per preset, at T = 7 or its largest T (chosen_T): step time vs L (log y, bars with caps =
// min..max of the repetitions), the spread of the repetitions vs L ((max - min) / median, in
// %, linear y: what the bars on a log axis cannot show), peak memory vs L, TFLOP/s vs L, % of
// GEMM vs L, one line per backend in its colour (perf_palette.hpp), a benchmark that did not
// run drawn as a labelled cross ("sdpa OOM") at its L, never as a point; TTT overhead
// flash/floor vs L (one line per T, oranges) and, with several T, vs T (one line per L,
// purples), the key titled with what the lines are.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "reports/performance/perf_results.hpp"

namespace attn::report {

struct ChartSeries {
  std::string label, color;
  int dash = 1;                                ///< gnuplot dashtype
  int point = 7;                               ///< gnuplot pointtype (7 circle, 5 square, 9 triangle)
  std::vector<std::array<double, 4>> points;   ///< x, y, y_low, y_high (bars when low < high)
};

/// A benchmark that did not run: a cross and its text at x, stacked from the top by `slot`.
struct ChartMarker {
  double x = 0;
  std::string text, color;
  int slot = 0;
};

struct ChartSpec {
  std::string id;       ///< file stem: "latency_llama3-8b", also the HTML anchor
  std::string preset, title, xlabel, ylabel;
  bool x_is_L = true;   ///< log2 x with "1K".."32K" tics; else linear integer tics (T)
  bool log_y = false;
  bool zero_based = true;        ///< linear y axis starts at 0 (false: fitted to the data)
  std::vector<double> x_values;  ///< tic positions
  std::vector<ChartSeries> series;
  std::vector<ChartMarker> markers;
  std::string key_title;         ///< what the lines are ("line colour: TTT length T"); "" for backends
  double reference_line = 0;     ///< horizontal line at this y (0: none)
  std::string reference_label;
  bool empty() const;            ///< no series with points
};

/// Every chart of the report, in display order (per preset: latency, spread, memory, TFLOP/s,
/// % GEMM, overhead vs L, overhead vs T). Charts without data are left out.
std::vector<ChartSpec> build_charts(const PerfRun& run);

/// Data file: one block per series ("# label" then "x y y_low y_high" lines), blocks separated
/// by two blank lines so the script selects them with `index`.
std::string gnuplot_data(const ChartSpec& chart);
/// Script drawing `chart` from `data_file` into $outfile (default "<id>.svg") as SVG.
std::string gnuplot_script(const ChartSpec& chart, const std::string& data_file);

struct RenderedChart {
  ChartSpec spec;
  std::string svg;                ///< the SVG document gnuplot wrote
  std::filesystem::path svg_path, script_path, data_path;
};

/// Writes <id>.gp and <id>.dat into `dir` and runs gnuplot on each (atomic: temp + rename).
/// `notes` receives gnuplot's warnings. Throws std::runtime_error when gnuplot fails.
std::vector<RenderedChart> render_charts(const std::vector<ChartSpec>& charts, const std::filesystem::path& dir,
                                         const std::filesystem::path& gnuplot, std::vector<std::string>& notes);

/// The SVG ready to inline in HTML: no XML prolog or DOCTYPE, every id (and reference to it)
/// prefixed with `id_prefix` so that several charts share one page, title set to `title`;
/// whitespace runs collapsed (none left between tags) and empty groups without an id dropped.
std::string inline_svg(const std::string& svg, const std::string& id_prefix, const std::string& title);

}  // namespace attn::report

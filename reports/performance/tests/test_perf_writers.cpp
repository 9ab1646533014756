// Charts (what is plotted, the gnuplot script, OOM as an annotation), tables, the Markdown and
// HTML writers, and the whole report written into a folder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "datasets/errors.hpp"
#include "reports/performance/perf_charts.hpp"
#include "reports/performance/perf_failures.hpp"
#include "reports/performance/perf_gnuplot.hpp"
#include "reports/performance/perf_html.hpp"
#include "reports/performance/perf_markdown.hpp"
#include "reports/performance/perf_report.hpp"
#include "reports/performance/perf_tables.hpp"
#include "reports/performance/tests/perf_test_data.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using test::add_failure;
using test::add_repetitions;
using test::bench_doc;

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// A small grid: sdpa OOM at 8K, a flex entry with compile_s, an unsupported one, two T.
PerfRun small_run() {
  json doc = bench_doc();
  for (std::int64_t L : {1024, 4096, 8192}) {
    for (std::int64_t T : {1, 7}) {
      const std::string tail = "/llama3-8b/L:" + std::to_string(L) + "/T:" + std::to_string(T);
      const double s = double(L) / 1024;
      add_repetitions(doc, "train_step/flash" + tail, {10 * s * T, 11 * s * T, 12 * s * T},
                      {{"TFLOPS", 150.0}, {"gemm_TFLOPS", 600.0}, {"pct_of_gemm", 25.0}, {"peak_mem_GiB", 0.25 * s}});
      add_repetitions(doc, "train_step/floor" + tail, {8 * s * T, 8.5 * s * T, 9 * s * T},
                      {{"peak_mem_GiB", 0.2 * s}});
      if (L == 8192) add_failure(doc, "train_step/sdpa" + tail, "OOM: CUDA out of memory", 3);
      else add_repetitions(doc, "train_step/sdpa" + tail, {40 * s * s, 41 * s * s, 42 * s * s}, {{"peak_mem_GiB", 1.6 * s * s}});
      add_repetitions(doc, "train_step/flex" + tail, {13 * s * T, 14 * s * T, 15 * s * T},
                      {{"peak_mem_GiB", 0.5 * s}, {"compile_s", 25.0}}, false);
    }
  }
  add_failure(doc, "fwd/flex/llama3-8b/L:4096/T:7", "unsupported: flex adapter times train_step only");
  PerfRun run;
  add_benchmark_json(run, doc, "small.json");
  return run;
}

const ChartSpec* chart(const std::vector<ChartSpec>& charts, const std::string& id) {
  for (const auto& c : charts)
    if (c.id == id) return &c;
  return nullptr;
}

TEST(PerfTables, ChosenTPrefersSevenElseTheLargest) {
  const PerfRun run = small_run();
  EXPECT_EQ(chosen_T(run, "llama3-8b"), 7);
  json doc = bench_doc();
  add_repetitions(doc, "train_step/flash/p/L:1024/T:3", {1, 2, 3});
  add_repetitions(doc, "train_step/flash/p/L:1024/T:5", {1, 2, 3});
  add_repetitions(doc, "fwd/flash/p/L:1024/T:9", {1, 2, 3});
  PerfRun other;
  add_benchmark_json(other, doc, "x.json");
  EXPECT_EQ(chosen_T(other, "p"), 5);
  EXPECT_EQ(short_L(32768), "32K");
  EXPECT_EQ(short_L(1536), "1536");
  EXPECT_EQ(format_ms(46.04), "46.0");
  EXPECT_EQ(format_ms(0.1234), "0.123");
  EXPECT_EQ(backends_of(run, "llama3-8b"), (std::vector<std::string>{"sdpa", "flex", "flash", "floor"}));
}

TEST(PerfTables, HeadlineLatencyOverheadCompile) {
  const PerfRun run = small_run();
  const PerfTable head = headline_table(run);
  ASSERT_EQ(head.rows.size(), 4u);  // one preset x four backends
  EXPECT_EQ(head.header.back(), "L = 8K");
  EXPECT_EQ(head.rows[0][2].text, "sdpa");
  EXPECT_EQ(head.rows[0].back().text, "OOM");
  EXPECT_EQ(head.rows[0].back().tone, CellTone::bad);
  EXPECT_EQ(head.rows[2][3].text, "77.0 ms · 0.25 GiB");  // flash, L = 1K, T = 7

  const PerfTable lat = latency_memory_table(run, "llama3-8b");
  ASSERT_EQ(lat.rows.size(), 3u);
  EXPECT_EQ(lat.rows[0][3].text, "77.0 ± 7.00");  // flash column, median ± stddev
  EXPECT_EQ(lat.header.back(), "flex / flash");

  const PerfTable ov = overhead_table(run, "llama3-8b");
  EXPECT_EQ(ov.header, (std::vector<std::string>{"L", "train step T=1", "train step T=7"}));
  EXPECT_EQ(ov.rows[0][1].text, "1.29×");  // 11 / 8.5

  const PerfTable comp = compile_table(run);
  EXPECT_EQ(comp.rows.size(), 6u);
  EXPECT_EQ(comp.rows[0][1].text, "25.0");
  const std::vector<FailureGroup> failed = group_failures(run);
  ASSERT_EQ(failed.size(), 2u);  // sdpa OOM at 8K for T 1 and 7; flex fwd unsupported
  EXPECT_EQ(failure_group_text(failed[0]), "sdpa: OOM at L ≥ 8K (train step; llama3-8b at T 1/7; 2 benchmarks)");
  EXPECT_EQ(failure_group_text(failed[1]), "flex: unsupported at every L (fwd; llama3-8b at T 7; 1 benchmark)");
  EXPECT_EQ(run_counts(run), "25 benchmarks: 22 ok, 2 OOM, 1 unsupported");
}

TEST(PerfTables, CsvQuotesOnlyWhatNeedsIt) {
  PerfTable t;
  t.header = {"benchmark", "message"};
  t.rows = {{{"fwd/flash/p/L:1024/T:1"}, {"plain"}},
            {{"fwd/flex/p/L:2048/T:1"}, {"RuntimeError: a, \"b\"\nnext"}}};
  EXPECT_EQ(csv_of(t), "benchmark,message\r\nfwd/flash/p/L:1024/T:1,plain\r\n"
                       "fwd/flex/p/L:2048/T:1,\"RuntimeError: a, \"\"b\"\"\nnext\"\r\n");
}

TEST(PerfCharts, OneSetPerPresetWithOomAsAnnotation) {
  const PerfRun run = small_run();
  const std::vector<ChartSpec> charts = build_charts(run);
  std::set<std::string> ids;
  for (const auto& c : charts) ids.insert(c.id);
  EXPECT_EQ(ids, (std::set<std::string>{"latency_llama3-8b", "spread_llama3-8b", "memory_llama3-8b", "tflops_llama3-8b",
                                        "pct_gemm_llama3-8b", "overhead_llama3-8b", "overhead_T_llama3-8b"}));
  const ChartSpec* lat = chart(charts, "latency_llama3-8b");
  ASSERT_NE(lat, nullptr);
  EXPECT_TRUE(lat->log_y);
  ASSERT_EQ(lat->series.size(), 4u);
  EXPECT_EQ(lat->series[0].label, "sdpa");
  EXPECT_EQ(lat->series[0].points.size(), 2u);  // 1K and 4K; 8K is OOM
  ASSERT_EQ(lat->markers.size(), 1u);
  EXPECT_EQ(lat->markers[0].text, "sdpa OOM");
  EXPECT_EQ(lat->markers[0].x, 8192);
  EXPECT_EQ(lat->series[2].label, "flash");
  EXPECT_EQ(lat->series[2].points[0][2], 70);  // bars: fastest..slowest repetition
  EXPECT_EQ(lat->series[2].points[0][3], 84);

  const std::string data = gnuplot_data(*lat);
  EXPECT_EQ(count(data, "# sdpa\n"), 1);
  // The sdpa block has no 8K line: OOM is a marker, never a point.
  const std::string sdpa_block = data.substr(data.find("# sdpa"), data.find("# flex") - data.find("# sdpa"));
  EXPECT_EQ(sdpa_block.find("8192"), std::string::npos) << sdpa_block;

  const std::string gp = gnuplot_script(*lat, "latency_llama3-8b.dat");
  for (const char* needle : {"set terminal svg", "set logscale x 2", "set logscale y 10", "\"8K\" 8192",
                             "set label 1 \"sdpa OOM\" at first 8192, graph", "index 3", "with yerrorbars lw 2.5",
                             "set errorbars 2.5",
                             "title \"flash\"", "set ylabel \"median step time (ms, log scale; bars: fastest to slowest repetition)\"",
                             "set xlabel \"sequence length L (tokens)\"", "noenhanced"})
    EXPECT_NE(gp.find(needle), std::string::npos) << needle << "\n" << gp;
  EXPECT_EQ(gp.find("index 4"), std::string::npos);

  const ChartSpec* tf = chart(charts, "tflops_llama3-8b");
  ASSERT_NE(tf, nullptr);
  EXPECT_EQ(tf->reference_line, 600);
  EXPECT_NE(gnuplot_script(*tf, "t.dat").find("bf16 GEMM 600 TFLOP/s"), std::string::npos);
  // The spread: (slowest - fastest) / median in %, per backend: flash at 1K, T 7: (84 - 70) / 77.
  const ChartSpec* sp = chart(charts, "spread_llama3-8b");
  ASSERT_NE(sp, nullptr);
  EXPECT_FALSE(sp->log_y);
  EXPECT_TRUE(sp->markers.empty());
  EXPECT_EQ(sp->series[2].label, "flash");
  EXPECT_NEAR(sp->series[2].points[0][1], 100.0 * 14 / 77, 1e-9);
  const ChartSpec* ovT = chart(charts, "overhead_T_llama3-8b");
  ASSERT_NE(ovT, nullptr);
  EXPECT_FALSE(ovT->x_is_L);
  EXPECT_EQ(ovT->series.size(), 3u);  // one line per L
}

TEST(PerfCharts, InlineSvgPrefixesIdsAndDropsTheProlog) {
  const std::string svg =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<svg viewBox=\"0 0 10 10\">\n<title>Gnuplot</title>"
      "<g id=\"gnuplot_canvas\"><defs><path id='gpPt1' d=''/><path id='gpPt10' d=''/>"
      "<filter id='textbox'/></defs><use xlink:href='#gpPt1'/><use xlink:href='#gpPt10'/>"
      "<g filter=\"url(#textbox)\"/><a href=\"#other\"/></g></svg>";
  const std::string out = inline_svg(svg, "c3_", "a < b");
  EXPECT_EQ(out.rfind("<svg", 0), 0u);
  EXPECT_EQ(out.find("<?xml"), std::string::npos);
  EXPECT_EQ(out.find("DOCTYPE"), std::string::npos);
  EXPECT_NE(out.find("id=\"c3_gnuplot_canvas\""), std::string::npos);
  EXPECT_NE(out.find("id='c3_gpPt10'"), std::string::npos);
  EXPECT_NE(out.find("href='#c3_gpPt1'"), std::string::npos);
  EXPECT_NE(out.find("href='#c3_gpPt10'"), std::string::npos);
  EXPECT_NE(out.find("url(#c3_textbox)"), std::string::npos);
  EXPECT_NE(out.find("href=\"#other\""), std::string::npos);  // not an id of this SVG
  EXPECT_NE(out.find("<title>a &lt; b</title>"), std::string::npos);
}

TEST(PerfCharts, InlineSvgDropsEmptyGroupsAndCollapsesWhitespace) {
  const std::string svg =
      "<svg viewBox=\"0 0 10 10\">\n<title>Gnuplot</title>\n<g id=\"gnuplot_canvas\">\n"
      "<g fill=\"none\" color=\"black\">\n</g>\n"           // empty: dropped
      "<g fill=\"none\">\n\t<g stroke=\"red\"> </g>\n</g>\n"  // empty once its child is dropped
      "<g id='kept'></g>\n"                                     // has an id: kept
      "<g fill=\"none\">\n\t<path stroke='rgb( 68,  68,  68)'  d='M1,2 L3,4  '/>\n"
      "\t<text>a   b</text>\n</g>\n</g>\n</svg>\n";
  const std::string out = inline_svg(svg, "c1_", "t");
  EXPECT_EQ(out, "<svg role=\"img\" viewBox=\"0 0 10 10\"><title>t</title><g id=\"c1_gnuplot_canvas\">"
                 "<g id='c1_kept'></g><g fill=\"none\"><path stroke='rgb( 68, 68, 68)' d='M1,2 L3,4 '/>"
                 "<text>a b</text></g></g></svg>");
}

TEST(PerfWriters, MarkdownAndHtmlCarryTablesVerdictsAndNothingExternal) {
  const PerfRun run = small_run();
  json old_doc = bench_doc("old");
  add_repetitions(old_doc, "train_step/flash/llama3-8b/L:4096/T:7", {280, 308, 336});
  add_repetitions(old_doc, "train_step/sdpa/llama3-8b/L:8192/T:7", {600, 610, 620});
  PerfRun before;
  add_benchmark_json(before, old_doc, "old|pipe.json");
  const PerfComparison cmp = compare_runs(before, run);
  PerfReportView view;
  view.title = "Nightly <test>";
  view.run = &run;
  view.previous = &before;
  view.comparison = &cmp;
  const std::string md = perf_markdown(view);
  for (const char* needle : {"# Nightly <test>", "## Headline", "## Changes against the previous run",
                             "**newly OOM**", "### llama3-8b: training step at T = 7",
                             "### llama3-8b: TTT overhead (flash / floor)", "## flex compile time",
                             "## Benchmarks that did not run", "unsupported: flex adapter", "| L | sdpa ms |"})
    EXPECT_NE(md.find(needle), std::string::npos) << needle << "\n" << md;
  EXPECT_NE(md.find("- previous: `old|pipe.json`"), std::string::npos);
  PerfTable pipes;
  pipes.title = "t";
  pipes.header = {"a", "b"};
  pipes.rows = {{{"x|y"}, {"bad", CellTone::bad}}};
  EXPECT_NE(markdown_table(pipes).find("| x\\|y | **bad** |"), std::string::npos) << markdown_table(pipes);

  const std::string html = perf_html(view);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>Nightly &lt;test&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"bad\">newly OOM</td>"), std::string::npos);
  for (const char* external : {"<script", "<link", "<img", "@import", "src=", "href=\"http", "url(http"})
    EXPECT_EQ(html.find(external), std::string::npos) << external;
}

TEST(PerfReport, WritesHtmlMarkdownAndChartsAtomically) {
  // The charts need gnuplot, which scripts/setup.sh installs (gnuplot-nox); without it the
  // report is a bad input (MissingGnuplotIsABadInputWithAClearMessage).
  ASSERT_NO_THROW(find_gnuplot()) << "install gnuplot-nox (scripts/setup.sh does)";
  PerfReportOptions o;
  o.inputs = {test::sample("sample_bench.json"), test::sample("sample_bench_flex.json")};
  o.previous = {test::sample("sample_bench_previous.json")};
  o.out_dir = std::filesystem::path(test::temp_dir("out")) / "nested";
  std::ostringstream log;
  const PerfReportOutcome r = write_perf_report(o, log);
  EXPECT_EQ(r.charts, 13);  // mha: 7 (several T), llama3-8b: 6
  ASSERT_NE(r.comparison, nullptr);
  EXPECT_EQ(r.comparison->regressions, 4);
  for (const auto& f : r.files) EXPECT_TRUE(std::filesystem::is_regular_file(f)) << f;
  for (const auto& e : std::filesystem::recursive_directory_iterator(o.out_dir))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  const std::string html = read(r.html);
  EXPECT_EQ(count(html, "<svg"), 13);
  EXPECT_EQ(count(html, "id=\"c0_gnuplot_canvas\""), 1);
  EXPECT_EQ(count(html, "id=\"c12_gnuplot_canvas\""), 1);
  EXPECT_NE(html.find("NVIDIA H100 80GB HBM3"), std::string::npos);
  EXPECT_NE(read(o.out_dir / "charts" / "latency_llama3-8b-mha.svg").find("sdpa OOM"), std::string::npos);
  EXPECT_NE(read(r.markdown).find("(charts/latency_llama3-8b-mha.svg)"), std::string::npos);
  EXPECT_NE(log.str().find("drew 13 charts"), std::string::npos) << log.str();
  // The inputs are named relative to the output folder, never by their absolute path.
  EXPECT_EQ(html.find(ATTN_PERF_SAMPLE_DIR), std::string::npos);
  EXPECT_EQ(read(r.markdown).find(ATTN_PERF_SAMPLE_DIR), std::string::npos);
  EXPECT_NE(html.find("sample_bench.json</code>"), std::string::npos);  // relative, whatever the current directory
}

TEST(PerfReport, MissingGnuplotIsABadInputWithAClearMessage) {
  const char* old = std::getenv("ATTN_GNUPLOT");
  const std::string saved = old ? old : "";
  ::setenv("ATTN_GNUPLOT", "/nonexistent/gnuplot", 1);
  PerfReportOptions o;
  o.inputs = {test::sample("sample_bench.json")};
  o.out_dir = test::temp_dir("out");
  std::ostringstream log;
  std::string message;
  try {
    write_perf_report(o, log);
  } catch (const data::InputError& e) {
    message = e.what();
  }
  if (old) ::setenv("ATTN_GNUPLOT", saved.c_str(), 1);
  else ::unsetenv("ATTN_GNUPLOT");
  EXPECT_NE(message.find("/nonexistent/gnuplot"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(o.out_dir / "report.html"));
  // --no-charts needs no gnuplot.
  o.charts = false;
  ::setenv("ATTN_GNUPLOT", "/nonexistent/gnuplot", 1);
  const PerfReportOutcome r = write_perf_report(o, log);
  if (old) ::setenv("ATTN_GNUPLOT", saved.c_str(), 1);
  else ::unsetenv("ATTN_GNUPLOT");
  EXPECT_EQ(r.charts, 0);
  EXPECT_TRUE(std::filesystem::is_regular_file(o.out_dir / "report.html"));
}

}  // namespace
}  // namespace attn::report

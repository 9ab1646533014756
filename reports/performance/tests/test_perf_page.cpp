// What makes the page read at a glance: failures grouped (not one row per benchmark), one time
// format, no absolute path, one colour per meaning, and the HTML's layout contract.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "reports/performance/perf_charts.hpp"
#include "reports/performance/perf_failures.hpp"
#include "reports/performance/perf_html.hpp"
#include "reports/performance/perf_markdown.hpp"
#include "reports/performance/perf_palette.hpp"
#include "reports/performance/perf_paths.hpp"
#include "reports/performance/perf_time_format.hpp"
#include "reports/performance/tests/perf_test_data.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using test::add_failure;
using test::add_repetitions;
using test::bench_doc;

const std::string kOom = "OOM: CUDA out of memory. Tried to allocate 8.00 GiB. GPU 0 has a total capacity of 79.18 GiB "
                         "of which 232.19 MiB is free. Including non-PyTorch memory, this process has 78.94 GiB in use.";
const std::string kSkipped = "OOM: skipped (smaller L ran out of memory)";

std::string name(const std::string& w, const std::string& b, const std::string& p, std::int64_t L, std::int64_t T) {
  return w + "/" + b + "/" + p + "/L:" + std::to_string(L) + "/T:" + std::to_string(T);
}

// sdpa OOM from 8K in preset a (T 1, 3, 7) and b (T 7), from 16K in b at T 1 and 3; flex fails
// at 8K alone in a; flash and floor run everywhere.
PerfRun oom_run() {
  json doc = bench_doc();
  for (const std::string p : {"a", "b"})
    for (std::int64_t T : {1, 3, 7})
      for (std::int64_t L : {4096, 8192, 16384}) {
        add_repetitions(doc, name("train_step", "flash", p, L, T), {1, 2, 3});
        add_repetitions(doc, name("train_step", "floor", p, L, T), {1, 1.5, 2});
        const std::int64_t oom_from = p == "a" || T == 7 ? 8192 : 16384;
        if (L < oom_from) add_repetitions(doc, name("train_step", "sdpa", p, L, T), {4, 5, 6});
        else add_failure(doc, name("train_step", "sdpa", p, L, T), L == oom_from ? kOom : kSkipped, 3);
        if (p == "a" && T == 7) {
          if (L == 8192) add_failure(doc, name("train_step", "flex", p, L, T), "error: Triton compile failed");
          else add_repetitions(doc, name("train_step", "flex", p, L, T), {2, 3, 4});
        }
      }
  PerfRun run;
  add_benchmark_json(run, doc, "oom.json");
  return run;
}

TEST(PerfFailures, GroupedByBackendStatusAndTheLengthsTheyFailedAt) {
  const PerfRun run = oom_run();
  EXPECT_EQ(failed_L_text(run, "train_step", "sdpa", "a", 7, RunStatus::oom), "L ≥ 8K");
  EXPECT_EQ(failed_L_text(run, "train_step", "sdpa", "b", 1, RunStatus::oom), "L ≥ 16K");
  EXPECT_EQ(failed_L_text(run, "train_step", "flex", "a", 7, RunStatus::error), "L = 8K");
  EXPECT_EQ(failed_L_text(run, "train_step", "flash", "a", 7, RunStatus::oom), "");
  const std::vector<FailureGroup> g = group_failures(run);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(failure_group_text(g[0]), "sdpa: OOM at L ≥ 8K (train step; a at T 1/3/7; b at T 7; 8 benchmarks)");
  EXPECT_EQ(failure_group_text(g[1]), "sdpa: OOM at L ≥ 16K (train step; b at T 1/3; 2 benchmarks)");
  EXPECT_EQ(failure_group_text(g[2]), "flex: error at L = 8K (train step; a at T 7; 1 benchmark)");
  // The cause is the first failure's message, cut to one short line; not "skipped".
  EXPECT_EQ(g[0].message, kOom);
  EXPECT_EQ(failure_group_line(g[0]),
            "sdpa: OOM at L ≥ 8K (train step; a at T 1/3/7; b at T 7; 8 benchmarks): OOM: CUDA out of memory. …");
  int total = 0;
  for (const auto& x : g) total += x.benchmarks;
  EXPECT_EQ(total, 11);  // every failed benchmark in exactly one group
}

TEST(PerfFailures, MessagesAreCutToOneShortLine) {
  EXPECT_EQ(short_message("short", 80), "short");
  EXPECT_EQ(short_message("two\nlines", 80), "two lines");
  EXPECT_EQ(short_message(kOom, 40, true), "OOM: CUDA out of memory. …");
  EXPECT_EQ(short_message(kOom, 40), "OOM: CUDA out of memory. Tried to alloc…");
  const std::string no_sentence(200, 'x');
  EXPECT_EQ(short_message(no_sentence, 10), std::string(9, 'x') + "…");
  // Characters, not bytes: "≥" is three bytes and one character.
  EXPECT_EQ(short_message("L ≥ 8K and more words here", 8), "L ≥ 8K…");
  const PerfTable messages = failure_messages_table(oom_run(), 50);
  ASSERT_EQ(messages.rows.size(), 11u);
  for (const auto& row : messages.rows) EXPECT_LE(row[2].text.size(), 50u + 2) << row[2].text;  // + "…" bytes
}

TEST(PerfFailures, MarkdownAndHtmlShowGroupsNotOneRowPerBenchmark) {
  const PerfRun run = oom_run();
  PerfReportView view;
  view.title = "t";
  view.run = &run;
  const std::string md = perf_markdown(view);
  EXPECT_NE(md.find("- sdpa: OOM at L ≥ 8K (train step; a at T 1/3/7; b at T 7; 8 benchmarks): OOM: CUDA out of "
                    "memory. …"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("232.19 MiB"), std::string::npos) << "a raw message in report.md";
  EXPECT_EQ(md.find("| train_step/sdpa/a/L:8192/T:7 |"), std::string::npos) << "one row per failed benchmark";
  const std::string html = perf_html(view);
  EXPECT_NE(html.find("<li>sdpa: OOM at L ≥ 16K (train step; b at T 1/3; 2 benchmarks)"), std::string::npos);
  // Raw messages only in the collapsed section, cut to 120 characters.
  const auto details = html.find("<details><summary>The 11 messages");
  ASSERT_NE(details, std::string::npos);
  EXPECT_EQ(html.find("232.19 MiB is free"), std::string::npos);
  EXPECT_NE(html.find("232.19 MiB"), std::string::npos);  // the first 120 characters are there
  EXPECT_GT(html.find("232.19 MiB"), details);
}

TEST(PerfTimeFormat, EveryTimeStampBecomesIsoUtcToTheMinute) {
  EXPECT_EQ(utc_minute("2026-11-24T14:18:37+00:00"), "2026-11-24 14:18 UTC");
  EXPECT_EQ(utc_minute("2026-11-24T14:23:18+0000"), "2026-11-24 14:23 UTC");
  EXPECT_EQ(utc_minute("2026-12-01T10:52:33Z"), "2026-12-01 10:52 UTC");
  EXPECT_EQ(utc_minute("2026-12-01T00:30:00+02:00"), "2026-11-30 22:30 UTC");  // across a day
  EXPECT_EQ(utc_minute("2026-12-31T23:45:00-01:30"), "2027-01-01 01:15 UTC");  // and a year
  EXPECT_EQ(utc_minute("2024-02-29 12:00"), "2024-02-29 12:00 UTC");
  EXPECT_EQ(utc_minute("2026-11-24T14:18:37.123456+00:00"), "2026-11-24 14:18 UTC");
  EXPECT_EQ(utc_minute("2026-11-24"), "2026-11-24 00:00 UTC");
  for (const char* bad : {"", "yesterday", "2026-13-01T00:00:00Z", "2026-11-24T25:00", "2026-11-24T10:00+5",
                          "2026-11-24T10:00:00 extra"})
    EXPECT_EQ(utc_minute(bad), "") << bad;
  EXPECT_EQ(display_time("yesterday"), "unparsed date 'yesterday'");
  EXPECT_EQ(utc_date("2026-12-01T00:30:00+02:00"), "2026-11-30");
}

TEST(PerfPaths, InputsAreNamedRelativeToTheReportNeverAbsolute) {
  const std::filesystem::path cwd = "/work/repo";
  EXPECT_EQ(display_path("/work/repo/nightly/d1/attn_bench.json", "/work/repo/nightly/d1", cwd), "attn_bench.json");
  EXPECT_EQ(display_path("nightly/d1/attn_bench.json", "nightly/d1/report", cwd), "../attn_bench.json");
  EXPECT_EQ(display_path("/work/repo/nightly/d0/a.json", "/work/repo/nightly/d1/report", cwd), "../../d0/a.json");
  // Too far from the report: relative to the current directory when inside it...
  EXPECT_EQ(display_path("/work/repo/data/x/a.json", "/tmp/out/deep/er", cwd), "data/x/a.json");
  // ...else the file name alone.
  EXPECT_EQ(display_path("/srv/results/2026/a.json", "/tmp/out/deep/er", cwd), "a.json");
  // Two folders up from /tmp/report is the root: "../../srv/a.json" would be the absolute path.
  EXPECT_EQ(display_path("/srv/a.json", "/tmp/report", cwd), "a.json");
  EXPECT_EQ(display_path("/work/repo/data/a.json", "/tmp/report", cwd), "data/a.json");
  EXPECT_EQ(display_path("/tmp/a.json", "/tmp/report", "/"), "../a.json");
  EXPECT_EQ(display_path("/srv/a.json", "/tmp/report/x/y", "/"), "a.json");  // nor relative to the root

  PerfRun run;
  json doc = bench_doc();
  add_repetitions(doc, name("train_step", "flash", "p", 1024, 7), {1, 2, 3});
  add_benchmark_json(run, doc, "/abs/one.json");
  add_benchmark_json(run, doc, "/abs/two.json");  // replaces: a warning naming both
  relabel_sources(run, {{"/abs/one.json", "one.json"}, {"/abs/two.json", "two.json"}});
  EXPECT_EQ(run.sources[0].path, "one.json");
  EXPECT_EQ(run.results.begin()->second.source, "two.json");
  ASSERT_EQ(run.warnings.size(), 1u);
  EXPECT_EQ(run.warnings[0].find("/abs/"), std::string::npos) << run.warnings[0];
  EXPECT_NE(run.warnings[0].find("two.json"), std::string::npos);
}

TEST(PerfPalette, OneColourOneMeaning) {
  // Backends: distinct colours, and none of them in the T or L schemes; the schemes disjoint.
  std::set<std::string> backends;
  for (const auto& b : known_backends()) backends.insert(backend_color(b));
  EXPECT_EQ(backends.size(), known_backends().size());
  std::set<std::string> all;
  for (const auto& v : {backend_palette(), t_palette(), l_palette()})
    for (const auto& c : v) EXPECT_TRUE(all.insert(c).second) << c << " has two meanings";
  // A backend keeps its colour whatever else is in the chart; unknown backends are stable too.
  EXPECT_EQ(backend_color("flash"), "#1f77b4");
  EXPECT_EQ(backend_color("my-kernel"), backend_color("my-kernel"));
  EXPECT_EQ(backend_dash("floor-sdpa"), 2);
  EXPECT_EQ(backend_dash("flash-fa2"), 1);
  // Shades: darker (later in the scheme) for larger values, the same value the same shade.
  const std::vector<std::int64_t> Ts = {1, 3, 7};
  const auto t = t_palette();
  EXPECT_LT(std::find(t.begin(), t.end(), t_color(1, Ts)), std::find(t.begin(), t.end(), t_color(7, Ts)));
  EXPECT_EQ(t_color(7, Ts), t.back());
}

TEST(PerfPalette, ChartsUseTheBackendColoursAndTheSchemesWithTheirKeyTitles) {
  const PerfRun run = oom_run();
  const std::vector<ChartSpec> charts = build_charts(run);
  const std::vector<std::string> t = t_palette(), l = l_palette();  // one vector each: begin and end of the same
  const std::set<std::string> t_shades(t.begin(), t.end()), l_shades(l.begin(), l.end());
  int overhead_charts = 0;
  for (const ChartSpec& c : charts) {
    for (const ChartSeries& s : c.series) {
      if (c.id.rfind("overhead_T_", 0) == 0) {
        EXPECT_TRUE(l_shades.count(s.color)) << c.id << " " << s.label << " " << s.color;
      } else if (c.id.rfind("overhead_", 0) == 0) {
        EXPECT_TRUE(t_shades.count(s.color)) << c.id << " " << s.label << " " << s.color;
      } else {
        EXPECT_EQ(s.color, backend_color(s.label)) << c.id << " " << s.label;
      }
    }
    if (c.id.rfind("overhead_", 0) == 0) {
      ++overhead_charts;
      EXPECT_NE(gnuplot_script(c, "x.dat").find("set key title \"line colour: "), std::string::npos) << c.id;
    }
  }
  EXPECT_EQ(overhead_charts, 4);  // per preset: vs L (a line per T) and vs T (a line per L)
}

TEST(PerfHtml, EveryTableScrollsInsteadOfWideningThePage) {
  const PerfRun run = oom_run();
  PerfReportView view;
  view.title = "t";
  view.run = &run;
  const std::string html = perf_html(view);
  const std::regex table("<table>");
  const std::regex wrapped("<div class=\"scroll\"><table>");
  const auto n_tables = std::distance(std::sregex_iterator(html.begin(), html.end(), table), std::sregex_iterator());
  const auto n_wrapped = std::distance(std::sregex_iterator(html.begin(), html.end(), wrapped), std::sregex_iterator());
  EXPECT_GT(n_tables, 3);
  EXPECT_EQ(n_tables, n_wrapped);
  EXPECT_NE(html.find(".scroll { overflow-x: auto; max-width: 100%; }"), std::string::npos);
  // Long names may break after each '/'.
  EXPECT_NE(html.find("train_step/<wbr>sdpa/<wbr>a/<wbr>L:8192/<wbr>T:7"), std::string::npos);
}

}  // namespace
}  // namespace attn::report

#include "reports/performance/perf_html.hpp"

#include <sstream>

#include "reports/performance/perf_failures.hpp"
#include "reports/performance/perf_time_format.hpp"
#include "reports/performance/perf_verdict.hpp"

namespace attn::report {
namespace {

// Layout contract: nothing widens the page beyond the window (ctest perf_report_render checks
// it at 1400 px): every table sits in a horizontally scrollable .scroll box, text cells and
// names wrap (names also after each '/'), headings, code and list items break anywhere.
const char* kStyle = R"css(
:root { color-scheme: light; }
*, *::before, *::after { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1d1d1f; background: #fff;
       max-width: 1380px; margin: 0 auto; padding: 20px 28px 60px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 24px; margin: 8px 0 6px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e4e4e7; }
h3 { font-size: 15px; margin: 22px 0 6px; }
h1, h2, h3, li, p, code, figcaption, summary { overflow-wrap: anywhere; }
p.note { color: #555; margin: 2px 0 8px; max-width: 1100px; }
.verdict { margin: 10px 0 8px; padding: 10px 16px; border-left: 4px solid #1f77b4; background: #f5f8fc; }
.verdict p { margin: 4px 0; font-size: 15px; }
.verdict p.note { font-size: 13px; margin-top: 8px; }
ul.meta { margin: 4px 0 12px; padding-left: 20px; color: #333; }
ul.failed li { margin: 2px 0; }
.summary { display: flex; gap: 14px; flex-wrap: wrap; margin: 14px 0 6px; }
.summary div { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; background: #fafafa; }
.summary b { font-size: 18px; display: block; }
.summary .bad b { color: #b00020; } .summary .good b { color: #11702f; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d9d9de; padding: 3px 8px; white-space: nowrap; }
th { background: #f1f1f4; font-weight: 600; text-align: center; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text { text-align: left; white-space: normal; overflow-wrap: break-word; }
tr:nth-child(even) td { background: #fafafc; }
td.bad { color: #b00020; font-weight: 700; background: #fdecee !important; }
td.good { color: #11702f; font-weight: 600; }
td.muted { color: #8a8a8e; }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; margin: 8px 0 14px; }
figure { margin: 0; border: 1px solid #e1e1e6; border-radius: 6px; padding: 6px; background: #fff; min-width: 0; }
figure svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #666; text-align: center; }
details { margin: 8px 0; } summary { cursor: pointer; font-weight: 600; }
.tables { display: flex; gap: 28px; flex-wrap: wrap; align-items: flex-start; }
.tables > div { min-width: 0; max-width: 100%; }
footer { margin-top: 40px; color: #666; font-size: 12px; }
)css";

const char* tone_class(CellTone t) {
  switch (t) {
    case CellTone::bad: return "bad";
    case CellTone::good: return "good";
    case CellTone::muted: return "muted";
    case CellTone::plain: break;
  }
  return "";
}

// Escaped text with a line-break opportunity after each '/' (benchmark names and paths).
std::string breakable(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += html_escape(std::string(1, c));
    if (c == '/') out += "<wbr>";
  }
  return out;
}

std::string table_html(const PerfTable& t, const std::string& heading = "h3", bool title = true) {
  std::ostringstream h;
  if (title) h << "<" << heading << ">" << html_escape(t.title) << "</" << heading << ">\n";
  if (!t.note.empty()) h << "<p class=\"note\">" << html_escape(t.note) << "</p>\n";
  if (t.rows.empty()) {
    h << "<p class=\"note\">(none)</p>\n";
    return h.str();
  }
  h << "<div class=\"scroll\"><table>\n<thead><tr>";
  for (const auto& c : t.header) h << "<th>" << html_escape(c) << "</th>";
  h << "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    h << "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::string cls = tone_class(row[i].tone);
      // First column and long text (names, messages) read left to right and wrap.
      const bool text = i == 0 || row[i].text.size() > 24;
      if (text) cls += cls.empty() ? "text" : " text";
      h << "<td" << (cls.empty() ? "" : " class=\"" + cls + "\"") << ">"
        << (text ? breakable(row[i].text) : html_escape(row[i].text)) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</tbody></table></div>\n";
  return h.str();
}

std::string source_line(const PerfSource& s) {
  std::string line = "<code>" + breakable(s.path) + "</code>: " + std::to_string(s.benchmarks) + " benchmarks";
  if (!s.shard.empty()) line += " (shard " + html_escape(s.shard) + ")";
  if (!s.device.empty()) line += " on " + html_escape(s.device);
  if (!s.torch_version.empty()) line += ", torch " + html_escape(s.torch_version);
  if (!s.commit.empty()) line += ", commit " + html_escape(s.commit);
  if (!s.date.empty()) line += ", " + html_escape(display_time(s.date));
  return line;
}

std::string verdict_html(const PerfRun& run) {
  const std::vector<PresetVerdict> verdicts = preset_verdicts(run);
  if (verdicts.empty()) return "";
  std::ostringstream h;
  h << "<section class=\"verdict\" id=\"verdict\">\n";
  for (const PresetVerdict& v : verdicts) {
    const std::vector<std::string> sentences = verdict_sentences(v);
    h << "<p>";
    for (std::size_t i = 0; i < sentences.size(); ++i) {
      const std::string& s = sentences[i];
      if (i == 0 && s.rfind(v.preset, 0) == 0)
        h << "<b>" << html_escape(v.preset) << "</b>" << html_escape(s.substr(v.preset.size()));
      else
        h << (i ? " " : "") << html_escape(s);
    }
    h << "</p>\n";
  }
  h << "<p class=\"note\">" << html_escape(verdict_legend()) << "</p>\n</section>\n";
  return h.str();
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string perf_html(const PerfReportView& v) {
  const PerfRun& run = *v.run;
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>" << html_escape(v.title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  h << "<h1>" << html_escape(v.title) << "</h1>\n";
  h << verdict_html(run);

  const std::array<int, kRunStatusCount> counts = status_counts(run);
  h << "<div class=\"summary\">\n<div><b>" << run.results.size() << "</b>benchmarks</div>\n"
    << "<div><b>" << counts[0] << "</b>ran</div>\n"
    << "<div" << (counts[1] ? " class=\"bad\"" : "") << "><b>" << counts[1] << "</b>out of memory</div>\n"
    << "<div><b>" << counts[2] + counts[3] << "</b>unsupported or failed</div>\n";
  if (counts[size_t(RunStatus::not_run)])
    h << "<div><b>" << counts[size_t(RunStatus::not_run)] << "</b>not run (time budget)</div>\n";
  if (v.comparison)
    h << "<div" << (v.comparison->regressions ? " class=\"bad\"" : "") << "><b>" << v.comparison->regressions
      << "</b>regressions vs previous</div>\n<div" << (v.comparison->improvements ? " class=\"good\"" : "") << "><b>"
      << v.comparison->improvements << "</b>improvements</div>\n";
  if (!v.harness.empty())
    h << "<div" << (v.harness_regressions ? " class=\"bad\"" : "") << "><b>" << v.harness_regressions
      << "</b>slower harness steps</div>\n";
  h << "</div>\n<ul class=\"meta\">\n";
  for (const auto& s : run.sources) h << "<li>" << source_line(s) << "</li>\n";
  if (v.previous)
    for (const auto& s : v.previous->sources) h << "<li>previous: " << source_line(s) << "</li>\n";
  h << "</ul>\n";

  h << "<h2 id=\"headline\">Headline</h2>\n" << table_html(verdict_table(run, preset_verdicts(run)), "h3", false);
  const PerfTable every = headline_table(run);
  if (!every.rows.empty())
    h << "<details><summary>Every backend and L (" << every.rows.size() << " rows)</summary>\n"
      << table_html(every, "h3", false) << "</details>\n";

  if (v.comparison) {
    const PerfTable flagged = change_table(*v.comparison, 0);
    h << "<h2 id=\"changes\">" << html_escape(flagged.title) << "</h2>\n" << table_html(flagged, "h3", false);
    h << "<p class=\"note\">All " << v.comparison->changes.size()
      << " compared benchmarks, this table's columns: <a href=\"changes.csv\">changes.csv</a>.</p>\n";
  }

  if (!v.harness.empty()) {
    h << "<h2 id=\"harness\">The harness's own speed</h2>\n";
    for (const auto& hv : v.harness) h << table_html(harness_timing_table(hv.now, hv.before ? &*hv.before : nullptr));
  }

  int chart_index = 0;
  for (const std::string& p : run.presets) {
    h << "<h2 id=\"preset-" << html_escape(p) << "\">" << html_escape(p) << "</h2>\n";
    bool any = false;
    for (const auto& c : v.charts) {
      if (c.spec.preset != p) continue;
      if (!any) h << "<div class=\"charts\">\n";
      any = true;
      h << "<figure id=\"" << html_escape(c.spec.id) << "\">"
        << inline_svg(c.svg, "c" + std::to_string(chart_index++) + "_", c.spec.title)
        << "<figcaption>" << breakable(v.chart_dir + "/" + c.svg_path.filename().string()) << " (gnuplot source "
        << html_escape(c.script_path.filename().string()) << ")</figcaption></figure>\n";
    }
    if (any) h << "</div>\n";
    h << table_html(latency_memory_table(run, p));
    h << "<div class=\"tables\"><div>" << table_html(throughput_table(run, p)) << "</div>";
    const PerfTable ov = overhead_table(run, p);
    if (!ov.rows.empty()) h << "<div>" << table_html(ov) << "</div>";
    h << "</div>\n";
  }

  const PerfTable compile = compile_table(run);
  if (!compile.rows.empty()) h << "<h2 id=\"compile\">" << html_escape(compile.title) << "</h2>\n" << table_html(compile, "h3", false);
  const std::vector<FailureGroup> groups = group_failures(run);
  if (!groups.empty()) {
    h << "<h2 id=\"failed\">Benchmarks that did not run</h2>\n<p class=\"note\">" << html_escape(failure_groups_legend())
      << "</p>\n<ul class=\"failed\">\n";
    for (const FailureGroup& g : groups) h << "<li>" << html_escape(failure_group_line(g)) << "</li>\n";
    h << "</ul>\n";
    const PerfTable messages = failure_messages_table(run, 120);
    h << "<details><summary>The " << messages.rows.size()
      << " messages, one per benchmark (cut to 120 characters)</summary>\n"
      << table_html(messages, "h3", false) << "</details>\n";
  }
  h << "<h2 id=\"all\">All benchmarks</h2>\n<p class=\"note\">The " << run.results.size()
    << " benchmarks with their statistics (median, stddev, cv, repetitions, min, max, TFLOP/s, % of the GEMM "
       "rate, peak memory, compile time): <a href=\"benchmarks.csv\">benchmarks.csv</a>.</p>\n";
  h << "<h2 id=\"inputs\">Inputs</h2>\n" << table_html(sources_table(run), "h3", false);
  if (!run.warnings.empty()) {
    h << "<h2 id=\"notes\">Notes</h2>\n<ul>\n";
    for (const auto& w : run.warnings) h << "<li>" << html_escape(w) << "</li>\n";
    h << "</ul>\n";
  }
  h << "<footer>Step times are medians over repetitions of CUDA-event (manual) time; the bars on the "
       "step-time charts span the fastest to the slowest repetition, and the spread charts show that range "
       "in percent of the median. Peak memory is above the inputs. Times are UTC. ";
  if (!v.generated_by.empty()) h << "Generated by " << html_escape(v.generated_by) << ".";
  h << "</footer>\n</body>\n</html>\n";
  return h.str();
}

}  // namespace attn::report

#include "reports/performance/perf_report.hpp"

#include <map>

#include "datasets/errors.hpp"
#include "datasets/atomic_output.hpp"
#include "reports/performance/perf_charts.hpp"
#include "reports/performance/perf_gnuplot.hpp"
#include "reports/performance/perf_harness_timing.hpp"
#include "reports/performance/perf_html.hpp"
#include "reports/performance/perf_markdown.hpp"
#include "reports/performance/perf_paths.hpp"
#include "reports/performance/perf_report_view.hpp"
#include "reports/performance/perf_tables.hpp"
#include "reports/performance/perf_time_format.hpp"

namespace attn::report {
namespace {

std::string default_title(const PerfRun& run) {
  std::string device, date;
  for (const auto& s : run.sources) {
    if (device.empty()) device = s.device;
    if (date.empty()) date = utc_date(s.date);
  }
  std::string t = "Attention backend benchmarks";
  if (!device.empty()) t += ": " + device;
  if (!date.empty()) t += ", " + date;
  return t;
}

void make_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw data::InputError("cannot create output folder " + dir.string() + (ec ? ": " + ec.message() : ""));
}

// Benchmark files in `files`, the time-to-verdict files moved to `timing`.
void split_harness_timing(std::vector<std::string>& files, std::vector<std::string>& timing) {
  std::vector<std::string> bench;
  for (const std::string& f : files) (is_harness_timing_file(f) ? timing : bench).push_back(f);
  files = bench;
}

}  // namespace

PerfReportOutcome write_perf_report(const PerfReportOptions& o, std::ostream& log) {
  if (o.out_dir.empty()) throw data::InputError("no output folder (-o DIR)");
  PerfReportOutcome out;
  const std::filesystem::path cwd = std::filesystem::current_path();
  auto shown = [&](const std::string& f) { return display_path(f, o.out_dir, cwd); };
  auto relabel = [&](PerfRun& run, const std::vector<std::string>& files) {
    std::map<std::string, std::string> names;
    for (const auto& f : files) names[f] = shown(f);
    relabel_sources(run, names);
  };
  // A time-to-verdict file among the results (a night's folder given as DIR/*.json) is the
  // harness's timing, as if given with --harness-timing.
  std::vector<std::string> inputs = o.inputs, harness_timing;
  split_harness_timing(inputs, harness_timing);
  if (inputs.empty())
    throw data::InputError("expected Google Benchmark JSON among the results, found only time-to-verdict files");
  harness_timing.insert(harness_timing.end(), o.harness_timing.begin(), o.harness_timing.end());
  out.run = std::make_unique<PerfRun>(load_perf_results(inputs));
  relabel(*out.run, inputs);
  log << "report: read " << run_counts(*out.run) << " from " << inputs.size() << " file(s)\n";
  for (const auto& w : out.run->warnings) log << "note: " << w << "\n";
  std::vector<std::string> previous = o.previous, previous_timing;
  split_harness_timing(previous, previous_timing);
  if (!o.previous.empty() && previous.empty())
    throw data::InputError("--previous: expected the previous run's Google Benchmark JSON, found only time-to-verdict files");
  if (!previous.empty()) {
    out.previous = std::make_unique<PerfRun>(load_perf_results(previous));
    relabel(*out.previous, previous);
    log << "report: previous run: " << run_counts(*out.previous) << "\n";
    for (const auto& w : out.previous->warnings) log << "note (previous): " << w << "\n";
    out.comparison = std::make_unique<PerfComparison>(compare_runs(*out.previous, *out.run, o.rule));
  }
  std::vector<HarnessTiming> before;
  for (const auto& f : previous_timing) before.push_back(load_harness_timing(f, shown(f)));
  for (const auto& f : harness_timing) {
    HarnessTimingView hv;
    hv.now = load_harness_timing(f, shown(f));
    for (const HarnessTiming& b : before)
      if (b.case_label() == hv.now.case_label()) hv.before = b;
    if (!before.empty() && !hv.before) log << "note: no previous time-to-verdict file of " << hv.now.case_label() << "\n";
    if (hv.before) out.harness_regressions += harness_regressions(*hv.before, hv.now);
    out.harness.push_back(std::move(hv));
  }
  if (!previous_timing.empty() && harness_timing.empty())
    log << "note: --previous has time-to-verdict files but no --harness-timing was given: not compared\n";

  // Inputs first (their errors say more), then gnuplot, before anything is written.
  std::filesystem::path gnuplot;
  if (o.charts) gnuplot = find_gnuplot();
  make_dir(o.out_dir);
  PerfReportView view;
  view.run = out.run.get();
  view.previous = out.previous.get();
  view.comparison = out.comparison.get();
  view.title = o.title.empty() ? default_title(*out.run) : o.title;
  view.generated_by = o.generated_by;
  view.harness = out.harness;
  view.harness_regressions = out.harness_regressions;
  if (o.charts) {
    const std::filesystem::path chart_dir = o.out_dir / view.chart_dir;
    make_dir(chart_dir);
    std::vector<std::string> notes;
    view.charts = render_charts(build_charts(*out.run), chart_dir, gnuplot, notes);
    for (const auto& n : notes) log << "note: gnuplot: " << n << "\n";
    for (const auto& c : view.charts) out.files.insert(out.files.end(), {c.data_path, c.script_path, c.svg_path});
    out.charts = int(view.charts.size());
    log << "report: drew " << out.charts << " charts with " << gnuplot.string() << "\n";
  }
  out.markdown = o.out_dir / "report.md";
  data::write_file_atomically(out.markdown, perf_markdown(view));
  out.html = o.out_dir / "report.html";
  data::write_file_atomically(out.html, perf_html(view));
  out.files.push_back(out.markdown);
  out.files.push_back(out.html);
  // The full listings, too long for a page that reads at a glance.
  out.files.push_back(o.out_dir / "benchmarks.csv");
  data::write_file_atomically(out.files.back(), csv_of(all_benchmarks_table(*out.run)));
  if (out.comparison) {
    out.files.push_back(o.out_dir / "changes.csv");
    data::write_file_atomically(out.files.back(), csv_of(change_table(*out.comparison, -1)));
  } else {
    std::error_code ec;  // an earlier report's comparison in this folder would no longer match
    std::filesystem::remove(o.out_dir / "changes.csv", ec);
  }
  return out;
}

}  // namespace attn::report

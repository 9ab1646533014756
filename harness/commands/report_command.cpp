// attn-harness report RESULTS.json [MORE.json...] [--previous OLD.json[,...]]
// [--harness-timing TTV.json[,...]] -o DIR: the nightly performance report (report.html,
// report.md, charts/) from Google Benchmark JSON, and the harness's own time to a verdict.
// Exit 0 (also with regressions unless --fail-on-regression: then 1), 2 on bad input.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>

#include "datasets/atomic_output.hpp"
#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/commands/command.hpp"
#include "harness/exit_codes.hpp"
#include "reports/performance/perf_harness_timing.hpp"
#include "reports/performance/perf_noise.hpp"
#include "reports/performance/perf_report.hpp"
#include "reports/performance/perf_tables.hpp"

namespace attn::cli {

void add_report_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    report::PerfReportOptions report;
    std::string out;
    double min_change_pct = 1.0;
    std::string noise_file;
    bool fail_on_regression = false, no_charts = false, quiet = false, no_controls = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "report",
      "Performance report from Google Benchmark JSON (the bench runner's and the flex adapter's "
      "files are merged): report.html (self-contained, charts as inline SVG drawn by gnuplot), "
      "report.md and charts/ in DIR, and with --previous a table of changes: step times are "
      "compared through a control measured in the same run (plain causal attention of the same "
      "shape, else the GEMM rate), and a change is flagged only when it exceeds the noise between "
      "runs (--noise, from `perf-noise`) or else the noise within the runs. The page opens with a "
      "verdict per preset (the lead backend, flash where it ran, against the fastest floor, the other "
      "backends against the lead, each factor with its noise); with --harness-timing it also tracks the harness's own time to a "
      "verdict. Exit 0, also with regressions unless --fail-on-regression (then 1); 2 on bad input "
      "or no gnuplot.");
  app->add_option("RESULTS", o->report.inputs,
                  "Google Benchmark JSON files, merged in order; a time-to-verdict file among them (recognised by "
                  "its schema) counts as --harness-timing")
      ->required();
  app->add_option("--previous", o->report.previous,
                  "the previous run's JSON files (comma-separated or repeated) to compare with; its "
                  "time-to-verdict files (recognised by their schema) are compared with --harness-timing")
      ->delimiter(',')
      ->allow_extra_args(false);  // one token (a comma list) per occurrence: later positionals stay RESULTS
  app->add_option("--harness-timing", o->report.harness_timing,
                  "the harness's own speed: JSON written by scripts/time_to_verdict.py --json "
                  "(comma-separated or repeated); a step more than 20 % slower than the previous run's "
                  "is flagged (docs/benchmarks.md)")
      ->delimiter(',')
      ->allow_extra_args(false);
  app->add_option("-o,--output", o->out, "output folder (created when missing)")->required();
  app->add_option("--title", o->report.title, "report title (default: device and date from the JSON)");
  CLI::Option* factor = app->add_option(
      "--noise-factor", o->report.rule.noise_factor,
      "a change must exceed this many times the measured noise (stddev); default 2, and 3 with "
      "--noise (a calibrated sigma over a thousand benchmarks: at 2 about 5 % of them would be "
      "flagged on noise alone, at 3 about 0.3 %)");
  app->add_option("--min-change", o->min_change_pct, "...and this percentage of the old time")
      ->capture_default_str();
  app->add_option("--noise", o->noise_file,
                  "the noise between runs of the same commit (a file written by `attn-harness "
                  "perf-noise`): what a change of a controlled time must exceed");
  app->add_flag("--no-controls", o->no_controls,
                "compare raw step times (as measured) instead of times over their same-run control");
  app->add_flag("--fail-on-regression", o->fail_on_regression,
                "exit 1 when a regression is flagged (a benchmark, or a slower harness step)");
  app->add_flag("--no-charts", o->no_charts, "write the tables only (no gnuplot needed)");
  app->add_flag("-q,--quiet", o->quiet, "no progress on stderr");

  commands.push_back({app, [o, factor] {
    if (!(o->report.rule.noise_factor >= 0) || !(o->min_change_pct >= 0))
      throw data::InputError("--noise-factor and --min-change must be >= 0");
    o->report.rule.min_change = o->min_change_pct / 100.0;
    o->report.rule.use_controls = !o->no_controls;
    std::shared_ptr<report::CrossRunNoise> noise;
    if (!o->noise_file.empty()) {
      if (o->report.previous.empty()) throw data::InputError("--noise applies to the comparison: give --previous too");
      noise = std::make_shared<report::CrossRunNoise>(report::load_cross_run_noise(o->noise_file));
      o->report.rule.noise = noise.get();
      if (factor->count() == 0) o->report.rule.noise_factor = 3.0;
    }
    o->report.out_dir = o->out;
    o->report.charts = !o->no_charts;
    o->report.generated_by = std::string("attn-harness ") + kVersion + " (" + kCommit + ")";
    std::ostream null_stream(nullptr);
    const report::PerfReportOutcome r = report::write_perf_report(o->report, o->quiet ? null_stream : std::cerr);

    std::cout << "report: " << r.html.string() << "\n"
              << "report: " << r.markdown.string();
    if (r.charts) std::cout << ", " << r.charts << " charts in " << (o->report.out_dir / "charts").string();
    std::cout << "\n" << report::run_counts(*r.run) << "\n";
    for (const auto& hv : r.harness) {
      std::cout << "time to a verdict (" << hv.now.case_label() << "): " << report::format_ms(hv.now.total_seconds) << " s";
      if (hv.before) {
        const std::string mismatch = report::harness_mismatch(*hv.before, hv.now);
        if (!mismatch.empty()) std::cout << "; previous not compared: " << mismatch;
        for (const auto& c : report::compare_harness(*hv.before, hv.now)) {
          if (c.step == "total") continue;
          if (c.time == report::TimingVerdict::slower)
            std::cout << "; " << c.step << " slower: " << report::format_ms(c.old_s) << " -> "
                      << report::format_ms(c.new_s) << " s";
          if (c.memory == report::TimingVerdict::slower)
            std::cout << "; " << c.step << " peak memory larger: " << std::round(c.old_gib * 100) / 100 << " -> "
                      << std::round(c.new_gib * 100) / 100 << " GiB";
        }
      }
      std::cout << "\n";
    }
    const bool harness_failed = r.harness_regressions > 0;
    if (!r.comparison) return int(o->fail_on_regression && harness_failed ? kExitGateViolation : kExitOk);
    const report::PerfComparison& c = *r.comparison;
    int quiet = 0, unknown = 0, still = 0, not_run = 0;
    for (const auto& ch : c.changes) {
      if (ch.flagged_bad() || ch.time == report::Verdict::improvement || ch.time == report::Verdict::now_runs ||
          ch.memory == report::Verdict::improvement)
        continue;
      if (ch.time == report::Verdict::noise_unknown) ++unknown;
      else if (ch.time == report::Verdict::still_failing) ++still;
      else if (ch.time == report::Verdict::not_run) ++not_run;
      else ++quiet;
    }
    std::cout << "against previous: regressions " << c.regressions << ", improvements " << c.improvements
              << ", within noise " << quiet << ", noise unknown " << unknown << ", still failing " << still
              << ", not run " << not_run << " ("
              << c.changes.size() << " compared, " << c.only_new.size() << " new, " << c.only_old.size()
              << " gone; flagged when the change > " << c.rule.noise_factor << " x noise and > "
              << 100 * c.rule.min_change << " %; noise "
              << (noise ? "between runs from " + noise->source : std::string("within the runs")) << ")\n";
    if (!c.noise_note.empty()) std::cout << "  note: " << c.noise_note << "\n";
    for (const auto& ch : c.changes) {
      if (!ch.flagged_bad()) continue;
      std::cout << "  " << (report::is_flagged_bad(ch.time) ? report::verdict_name(ch.time) : "memory regression")
                << ": " << ch.key.name();
      if (ch.time == report::Verdict::regression && !ch.control.empty())
        std::cout << "  " << report::format_ms(ch.old_ms) << " -> " << report::format_ms(ch.new_ms) << " ms; over "
                  << ch.control << " " << (ch.controlled_change_pct > 0 ? "+" : "")
                  << std::round(ch.controlled_change_pct * 10) / 10 << " % (sigma "
                  << std::round(ch.sigma * 1000) / 10 << " %, " << ch.noise_source << ")";
      else if (ch.time == report::Verdict::regression)
        std::cout << "  " << report::format_ms(ch.old_ms) << " -> " << report::format_ms(ch.new_ms) << " ms ("
                  << (ch.change_pct > 0 ? "+" : "") << std::round(ch.change_pct * 10) / 10 << " %, noise "
                  << report::format_ms(ch.noise_ms) << " ms)";
      else if (ch.time == report::Verdict::newly_oom || ch.time == report::Verdict::newly_failing)
        std::cout << "  " << ch.new_result->message;
      if (ch.memory == report::Verdict::regression)
        std::cout << "  memory " << ch.old_mem_gib << " -> " << ch.new_mem_gib << " GiB";
      std::cout << "\n";
    }
    return int(o->fail_on_regression && (c.regressions > 0 || harness_failed) ? kExitGateViolation : kExitOk);
  }});
}

void add_perf_noise_command(CLI::App& root, std::vector<Command>& commands) {
  struct Options {
    std::vector<std::string> runs;
    std::string out;
  };
  auto o = std::make_shared<Options>();
  CLI::App* app = root.add_subcommand(
      "perf-noise",
      "Measure the noise between runs of the same commit (on different nights or machines) for "
      "`report --noise`: per benchmark, the standard deviation over the runs of the log of its "
      "step time over its same-job control, per control (floor-sdpa, GEMM rate), moderated towards "
      "the pooled variance of the benchmarks of the same L (a few runs say little about one "
      "benchmark's own spread). Each --run is one "
      "run's Google Benchmark JSON files, comma-separated. Exit 0, 2 on bad input.");
  app->add_option("--run", o->runs, "one run's files, comma-separated; give --run two or more times")
      ->required()
      ->allow_extra_args(false);
  app->add_option("-o,--output", o->out, "the noise file to write (JSON)")->required();
  commands.push_back({app, [o] {
    std::vector<report::PerfRun> runs;
    std::vector<std::vector<std::string>> files;
    for (const std::string& r : o->runs) {
      std::vector<std::string> f;
      size_t start = 0;
      while (start <= r.size()) {
        const size_t comma = r.find(',', start);
        const std::string part = r.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!part.empty()) f.push_back(part);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if (f.empty()) throw data::InputError("--run: expected one or more JSON files, found '" + r + "'");
      runs.push_back(report::load_perf_results(f));
      files.push_back(f);
    }
    std::vector<const report::PerfRun*> ptrs;
    for (const auto& r : runs) ptrs.push_back(&r);
    const report::CrossRunNoise n = report::measure_cross_run_noise(ptrs, files);
    data::write_file_atomically(o->out, report::noise_json(n).dump(2) + "\n");
    auto pct = [](double x) { return std::round(x * 1000) / 10; };
    std::cout << "perf-noise: " << runs.size() << " runs; sigma of ln(controlled time) of the benchmarks "
                 "measured in two or more, per control:\n";
    for (const auto& [control, c] : n.controls) {
      std::vector<double> all, raw;
      for (const auto& [k, v] : c.sigma) all.push_back(v);
      for (const auto& [k, v] : c.sigma_raw) raw.push_back(v);
      std::cout << "  " << std::left << std::setw(10) << control << std::right << " " << std::setw(4)
                << c.sigma.size() << " benchmarks: median " << pct(report::median_of(all))
                << " % moderated (own spread " << pct(report::median_of(raw)) << " %), default (90th percentile) "
                << pct(c.default_sigma) << " %; pooled by L:";
      for (const auto& [L, v] : c.pooled_sigma_by_L)
        std::cout << " " << (L % 1024 == 0 ? std::to_string(L / 1024) + "K" : std::to_string(L)) << " " << pct(v) << " %";
      std::cout << "\n";
    }
    std::cout << "written to " << o->out << "\n";
    return int(kExitOk);
  }});
}

}  // namespace attn::cli

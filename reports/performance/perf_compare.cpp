#include "reports/performance/perf_compare.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "reports/performance/perf_controls.hpp"
#include "reports/performance/perf_noise.hpp"

namespace attn::report {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::within_noise: return "within noise";
    case Verdict::regression: return "regression";
    case Verdict::improvement: return "improvement";
    case Verdict::noise_unknown: return "noise unknown";
    case Verdict::newly_oom: return "newly OOM";
    case Verdict::newly_failing: return "newly failing";
    case Verdict::now_runs: return "now runs";
    case Verdict::still_failing: return "still failing";
    case Verdict::not_run: return "not run";
  }
  return "?";
}

bool is_flagged_bad(Verdict v) {
  return v == Verdict::regression || v == Verdict::newly_oom || v == Verdict::newly_failing;
}

Verdict judge_change(double old_v, double new_v, double noise, const CompareRule& rule) {
  if (!std::isfinite(old_v) || !std::isfinite(new_v) || !std::isfinite(noise)) return Verdict::noise_unknown;
  const double d = new_v - old_v;
  const double threshold = std::max(rule.noise_factor * noise, rule.min_change * std::fabs(old_v));
  if (d > threshold) return Verdict::regression;
  if (-d > threshold) return Verdict::improvement;
  return Verdict::within_noise;
}

Verdict judge_controlled(double old_c, double new_c, double sigma, const CompareRule& rule) {
  if (!(old_c > 0) || !(new_c > 0) || !std::isfinite(sigma)) return Verdict::noise_unknown;
  const double change = std::log(new_c / old_c);
  const double min_log = std::log1p(rule.min_change);
  if (change > rule.noise_factor * sigma && change > min_log) return Verdict::regression;
  if (-change > rule.noise_factor * sigma && -change > min_log) return Verdict::improvement;
  return Verdict::within_noise;
}

PerfComparison compare_runs(const PerfRun& old_run, const PerfRun& new_run, const CompareRule& rule) {
  PerfComparison cmp;
  cmp.rule = rule;
  if (rule.noise && rule.noise->measured_from(old_run) && rule.noise->measured_from(new_run))
    cmp.noise_note = "the noise file was measured from both of these runs, so it is no evidence about a "
                     "change between them (docs/benchmarks.md, \"Comparing nights\"); judge a further run with it";
  for (const auto& [key, now] : new_run.results) {
    const PerfResult* before = old_run.find(key);
    if (!before) {
      cmp.only_new.push_back(key);
      continue;
    }
    PerfChange c;
    c.key = key;
    c.old_result = before;
    c.new_result = &now;
    c.old_ms = before->ok() ? before->median_ms : kNaN;
    c.new_ms = now.ok() ? now.median_ms : kNaN;
    c.change_pct = c.old_ms > 0 ? 100.0 * (c.new_ms - c.old_ms) / c.old_ms : kNaN;
    c.noise_ms = before->noise_measured && now.noise_measured ? std::max(before->stddev_ms, now.stddev_ms) : kNaN;
    c.threshold_ms = std::isfinite(c.noise_ms) ? std::max(rule.noise_factor * c.noise_ms, rule.min_change * c.old_ms) : kNaN;
    c.old_mem_gib = before->ok() ? before->peak_mem_gib : kNaN;
    c.new_mem_gib = now.ok() ? now.peak_mem_gib : kNaN;
    c.mem_change_pct = c.old_mem_gib > 0 ? 100.0 * (c.new_mem_gib - c.old_mem_gib) / c.old_mem_gib : kNaN;

    if (before->status == RunStatus::not_run || now.status == RunStatus::not_run) {
      c.time = Verdict::not_run;
    } else if (before->ok() && !now.ok()) {
      c.time = now.status == RunStatus::oom ? Verdict::newly_oom : Verdict::newly_failing;
    } else if (!before->ok() && now.ok()) {
      c.time = Verdict::now_runs;
    } else if (!before->ok() && !now.ok()) {
      c.time = Verdict::still_failing;
    } else {
      ControlledTime co = rule.use_controls ? controlled_time(old_run, *before) : ControlledTime{kNaN, kNaN, ""};
      ControlledTime cn = rule.use_controls ? controlled_time(new_run, now) : ControlledTime{kNaN, kNaN, ""};
      if (rule.use_controls && co.control != cn.control) {  // floor-sdpa in one run only: both by GEMM
        co = controlled_time(old_run, *before, false);
        cn = controlled_time(new_run, now, false);
      }
      if (std::isfinite(co.value) && std::isfinite(cn.value) && co.control == cn.control) {
        c.control = co.control;
        c.old_controlled = co.value;
        c.new_controlled = cn.value;
        c.controlled_change_pct = 100.0 * (cn.value / co.value - 1.0);
        const auto [between, basis] = rule.noise ? rule.noise->sigma_for(c.control, key)
                                                 : std::pair<double, std::string>{kNaN, ""};
        if (std::isfinite(between)) {
          // The change is the difference of two runs' ln(controlled time), each with sigma.
          c.sigma = std::sqrt(2.0) * between;
          c.noise_source = basis == "own" ? "between runs" : "between runs (" + basis + ")";
        } else {
          c.sigma = std::hypot(co.rel_noise, cn.rel_noise);
          c.noise_source = rule.noise ? "within run: the noise file has no " + c.control : "within run";
        }
        c.time = judge_controlled(co.value, cn.value, c.sigma, rule);
      } else {
        c.noise_source = "repetitions";
        c.time = judge_change(c.old_ms, c.new_ms, c.noise_ms, rule);
      }
      if (std::isfinite(c.old_mem_gib) && std::isfinite(c.new_mem_gib)) {
        const double mem_noise = std::max(before->peak_mem_spread_gib, now.peak_mem_spread_gib);
        const Verdict m = judge_change(c.old_mem_gib, c.new_mem_gib, std::isfinite(mem_noise) ? mem_noise : 0.0, rule);
        c.memory = m == Verdict::noise_unknown || std::fabs(c.new_mem_gib - c.old_mem_gib) <= rule.min_memory_gib
                       ? Verdict::within_noise
                       : m;
      }
    }
    if (c.flagged_bad()) ++cmp.regressions;
    else if (c.time == Verdict::improvement || c.time == Verdict::now_runs || c.memory == Verdict::improvement)
      ++cmp.improvements;
    cmp.changes.push_back(c);
  }
  for (const auto& [key, unused] : old_run.results)
    if (!new_run.find(key)) cmp.only_old.push_back(key);
  return cmp;
}

}  // namespace attn::report

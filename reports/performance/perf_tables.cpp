#include "reports/performance/perf_tables.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "reports/detail/number_format.hpp"
#include "reports/performance/perf_palette.hpp"
#include "reports/performance/perf_time_format.hpp"

namespace attn::report {
namespace {

using detail::fixed;

bool known_backend(const std::string& b) {
  const auto& k = known_backends();
  return std::find(k.begin(), k.end(), b) != k.end();
}

/// The cell of one benchmark: empty and muted when it is not in the run, its status when it
/// failed, else `value(*r)`.
template <typename Value>
PerfCell result_cell(const PerfResult* r, Value value) {
  if (!r) return {"", CellTone::muted};
  if (!r->ok()) return failed_cell(*r);
  return {value(*r)};
}

std::string gib(double x) { return std::isfinite(x) ? fixed(x, x < 10 ? 2 : 1) : "–"; }

std::string pct(double x, int digits = 1) {
  if (!std::isfinite(x)) return "–";
  return (x > 0 ? "+" : "") + fixed(x, digits) + " %";
}

std::string ratio(double x) { return std::isfinite(x) ? fixed(x, 2) + "×" : "–"; }

std::string workload_label(const std::string& w) {
  if (w == "train_step") return "train step";
  if (w == "train_step_padded") return "train step (padded)";
  return w;
}

}  // namespace

std::string short_L(std::int64_t L) {
  if (L >= 1024 && L % 1024 == 0) return std::to_string(L / 1024) + "K";
  return std::to_string(L);
}

std::string format_ms(double ms) {
  if (!std::isfinite(ms)) return "–";
  const double a = std::fabs(ms);
  return fixed(ms, a < 1 ? 3 : a < 10 ? 2 : a < 1000 ? 1 : 0);
}

std::int64_t chosen_T(const PerfRun& run, const std::string& preset) {
  std::set<std::int64_t> train, any;
  for (const auto& [k, r] : run.results) {
    if (!k.structured() || k.preset != preset) continue;
    any.insert(k.T);
    if (k.workload == "train_step") train.insert(k.T);
  }
  const std::set<std::int64_t>& ts = train.empty() ? any : train;
  if (ts.empty()) return 0;
  return ts.count(7) ? 7 : *ts.rbegin();
}

std::vector<std::int64_t> distinct_L(const PerfRun& run, const std::string& preset, const std::string& workload,
                                     std::int64_t T) {
  std::set<std::int64_t> s;
  for (const auto& [k, r] : run.results)
    if (k.structured() && k.preset == preset && k.workload == workload && k.T == T) s.insert(k.L);
  return {s.begin(), s.end()};
}

std::vector<std::int64_t> distinct_T(const PerfRun& run, const std::string& preset, const std::string& workload) {
  std::set<std::int64_t> s;
  for (const auto& [k, r] : run.results)
    if (k.structured() && k.preset == preset && k.workload == workload) s.insert(k.T);
  return {s.begin(), s.end()};
}

std::vector<std::string> backends_of(const PerfRun& run, const std::string& preset) {
  std::vector<std::string> out;
  for (const std::string& b : known_backends())
    for (const auto& [k, r] : run.results)
      if (k.structured() && k.preset == preset && k.backend == b) {
        out.push_back(b);
        break;
      }
  std::set<std::string> others;
  for (const auto& [k, r] : run.results)
    if (k.structured() && k.preset == preset && !known_backend(k.backend)) others.insert(k.backend);
  out.insert(out.end(), others.begin(), others.end());
  return out;
}

PerfTable headline_table(const PerfRun& run) {
  PerfTable t;
  t.title = "Headline: training step (T TTT steps forward + backward)";
  t.note = "Median step time and peak GPU memory above the inputs, per preset and backend, at T = 7 "
           "(or the largest T measured). OOM: out of GPU memory.";
  std::set<std::int64_t> all_L;
  for (const std::string& p : run.presets)
    for (std::int64_t L : distinct_L(run, p, "train_step", chosen_T(run, p))) all_L.insert(L);
  t.header = {"preset", "T", "backend"};
  for (std::int64_t L : all_L) t.header.push_back("L = " + short_L(L));
  for (const std::string& p : run.presets) {
    const std::int64_t T = chosen_T(run, p);
    if (distinct_L(run, p, "train_step", T).empty()) continue;
    for (const std::string& b : backends_of(run, p)) {
      std::vector<PerfCell> row{{p}, {std::to_string(T)}, {b}};
      bool any = false;
      for (std::int64_t L : all_L) {
        const PerfResult* r = run.find("train_step", b, p, L, T);
        row.push_back(result_cell(r, [](const PerfResult& x) {
          return format_ms(x.median_ms) + " ms · " + gib(x.peak_mem_gib) + " GiB";
        }));
        any = any || r;
      }
      if (any) t.rows.push_back(row);
    }
  }
  return t;
}

PerfTable latency_memory_table(const PerfRun& run, const std::string& preset) {
  PerfTable t;
  const std::int64_t T = chosen_T(run, preset);
  t.title = preset + ": training step at T = " + std::to_string(T);
  t.note = "Median step time ± standard deviation over the repetitions (ms), and peak GPU memory "
           "above the inputs (GiB).";
  const std::vector<std::string> backends = backends_of(run, preset);
  t.header = {"L"};
  for (const auto& b : backends) t.header.push_back(b + " ms");
  for (const auto& b : backends) t.header.push_back(b + " GiB");
  const bool speedup = std::count(backends.begin(), backends.end(), "flash") &&
                       std::count(backends.begin(), backends.end(), "flex");
  if (speedup) t.header.push_back("flex / flash");
  for (std::int64_t L : distinct_L(run, preset, "train_step", T)) {
    std::vector<PerfCell> row{{short_L(L)}};
    for (const auto& b : backends)
      row.push_back(result_cell(run.find("train_step", b, preset, L, T), [](const PerfResult& x) {
        return format_ms(x.median_ms) + (x.noise_measured ? " ± " + format_ms(x.stddev_ms) : std::string());
      }));
    for (const auto& b : backends)
      row.push_back(result_cell(run.find("train_step", b, preset, L, T),
                                [](const PerfResult& x) { return gib(x.peak_mem_gib); }));
    if (speedup) {
      const PerfResult* fl = run.find("train_step", "flash", preset, L, T);
      const PerfResult* fx = run.find("train_step", "flex", preset, L, T);
      row.push_back({fl && fx && fl->ok() && fx->ok() ? ratio(fx->median_ms / fl->median_ms) : "–"});
    }
    t.rows.push_back(row);
  }
  return t;
}

PerfTable throughput_table(const PerfRun& run, const std::string& preset) {
  PerfTable t;
  const std::int64_t T = chosen_T(run, preset);
  t.title = preset + ": throughput at T = " + std::to_string(T);
  t.note = "Useful TFLOP/s of the training step and its percentage of the same run's measured bf16 "
           "GEMM rate.";
  const std::vector<std::string> backends = backends_of(run, preset);
  t.header = {"L"};
  for (const auto& b : backends) t.header.push_back(b + " TFLOP/s");
  for (const auto& b : backends) t.header.push_back(b + " % GEMM");
  for (std::int64_t L : distinct_L(run, preset, "train_step", T)) {
    std::vector<PerfCell> row{{short_L(L)}};
    for (int pass = 0; pass < 2; ++pass)
      for (const auto& b : backends)
        row.push_back(result_cell(run.find("train_step", b, preset, L, T), [pass](const PerfResult& x) {
          const double v = pass == 0 ? x.tflops : x.pct_of_gemm;
          return std::isfinite(v) ? fixed(v, 1) : std::string("–");
        }));
    t.rows.push_back(row);
  }
  return t;
}

PerfTable overhead_table(const PerfRun& run, const std::string& preset) {
  PerfTable t;
  t.title = preset + ": TTT overhead (flash / floor)";
  t.note = "Step time of the flash+LSE path divided by the flash kernel on block 0 alone (no "
           "singletons, no merge). 1.00× would mean the TTT extras are free.";
  std::vector<std::pair<std::string, std::int64_t>> columns;
  std::set<std::int64_t> Ls;
  for (const char* w : {"train_step", "fwd", "bwd", "train_step_padded"})
    for (std::int64_t T : distinct_T(run, preset, w)) {
      bool any = false;
      for (std::int64_t L : distinct_L(run, preset, w, T))
        if (run.find(w, "flash", preset, L, T) && run.find(w, "floor", preset, L, T)) {
          any = true;
          Ls.insert(L);
        }
      if (any) columns.emplace_back(w, T);
    }
  t.header = {"L"};
  for (const auto& [w, T] : columns) t.header.push_back(workload_label(w) + " T=" + std::to_string(T));
  for (std::int64_t L : Ls) {
    std::vector<PerfCell> row{{short_L(L)}};
    for (const auto& [w, T] : columns) {
      const PerfResult* fl = run.find(w, "flash", preset, L, T);
      const PerfResult* fo = run.find(w, "floor", preset, L, T);
      if (!fl || !fo) row.push_back({"", CellTone::muted});
      else if (!fl->ok()) row.push_back(failed_cell(*fl));
      else if (!fo->ok()) row.push_back({"floor " + std::string(status_name(fo->status)), CellTone::muted});
      else row.push_back({ratio(fl->median_ms / fo->median_ms)});
    }
    t.rows.push_back(row);
  }
  return t;
}

PerfTable compile_table(const PerfRun& run) {
  PerfTable t;
  t.title = "flex compile time";
  t.note = "torch.compile time of flex_attention, measured once per benchmark and never included in "
           "the step time.";
  t.header = {"benchmark", "compile s", "step ms", "status"};
  for (const auto& [k, r] : run.results) {
    if (!std::isfinite(r.compile_s)) continue;
    t.rows.push_back({{k.name()}, {fixed(r.compile_s, 1)}, {r.ok() ? format_ms(r.median_ms) : "–"},
                      r.ok() ? PerfCell{"ok"} : failed_cell(r)});
  }
  return t;
}

PerfTable all_benchmarks_table(const PerfRun& run) {
  PerfTable t;
  t.title = "All benchmarks";
  t.note = "Times in ms (real time: CUDA events). cv = stddev / mean. reps = repetitions found.";
  t.header = {"benchmark", "status", "median", "stddev", "cv", "reps", "min", "max",
              "TFLOP/s", "% GEMM", "peak GiB", "compile s"};
  for (const auto& [k, r] : run.results) {
    if (!r.ok()) {
      t.rows.push_back({{k.name()}, failed_cell(r), {""}, {""}, {""}, {""}, {""}, {""}, {""}, {""}, {""},
                        {std::isfinite(r.compile_s) ? fixed(r.compile_s, 1) : ""}});
      continue;
    }
    const double cv = r.noise_measured && r.mean_ms > 0 ? 100.0 * r.stddev_ms / r.mean_ms : NAN;
    t.rows.push_back({{k.name()},
                      {"ok"},
                      {format_ms(r.median_ms)},
                      {r.noise_measured ? format_ms(r.stddev_ms) : "–"},
                      {std::isfinite(cv) ? fixed(cv, 1) + " %" : "–"},
                      {std::to_string(r.repetitions)},
                      {format_ms(r.min_ms)},
                      {format_ms(r.max_ms)},
                      {std::isfinite(r.tflops) ? fixed(r.tflops, 1) : "–"},
                      {std::isfinite(r.pct_of_gemm) ? fixed(r.pct_of_gemm, 1) : "–"},
                      {gib(r.peak_mem_gib)},
                      {std::isfinite(r.compile_s) ? fixed(r.compile_s, 1) : ""}});
  }
  return t;
}

PerfTable sources_table(const PerfRun& run) {
  PerfTable t;
  t.title = "Inputs";
  t.header = {"file", "device", "torch", "commit", "date", "host", "GEMM bf16 TFLOP/s", "benchmarks"};
  // A sharded run's files say which shard each is (a column only when one of them does).
  bool sharded = false;
  for (const PerfSource& s : run.sources) sharded = sharded || !s.shard.empty();
  if (sharded) t.header.push_back("shard");
  auto or_dash = [](const std::string& s) { return s.empty() ? std::string("–") : s; };
  for (const PerfSource& s : run.sources) {
    t.rows.push_back({{s.path}, {or_dash(s.device)}, {or_dash(s.torch_version)}, {or_dash(s.commit)},
                      {or_dash(display_time(s.date))}, {or_dash(s.host_name)},
                      {std::isfinite(s.gemm_bf16_tflops) ? fixed(s.gemm_bf16_tflops, 1) : "–"},
                      {std::to_string(s.benchmarks)}});
    if (sharded) t.rows.back().push_back({or_dash(s.shard)});
  }
  return t;
}

namespace {
/// "±1.2 % (between runs)" for a controlled change, "±0.31 ms" for a raw one, "–" when unknown.
std::string noise_cell(const PerfChange& c) {
  if (!c.control.empty())
    return std::isfinite(c.sigma) ? "σ " + fixed(100 * c.sigma, 1) + " % (" + c.noise_source + ")" : "–";
  return std::isfinite(c.noise_ms) ? "±" + format_ms(c.noise_ms) + " ms" : "–";
}
}  // namespace

PerfTable change_table(const PerfComparison& cmp, int max_quiet_rows) {
  PerfTable t;
  t.title = "Changes against the previous run";
  char rule[1024];
  std::snprintf(rule, sizeof rule,
                "Median step time, old → new. Times are compared through a control measured in the "
                "same run (floor-sdpa: plain causal attention of the same shape; else the run's GEMM "
                "rate), so that the machine's own speed cancels: a change is a regression (or "
                "improvement) only when ln(controlled new / controlled old) exceeds %g × sigma and "
                "%g %%, sigma being %s. Without a control the raw times are judged against the "
                "repetitions' noise. Peak memory uses the raw rule with the repetitions' spread as "
                "noise, ignoring changes up to %g GiB. Newly OOM or failing benchmarks are always "
                "flagged.",
                cmp.rule.noise_factor, 100 * cmp.rule.min_change,
                cmp.rule.noise ? "the noise between runs of the same commit (noise file)"
                               : "the within-run noise of the two controlled times (no noise file: "
                                 "between nights the variation is larger, see docs/benchmarks.md)",
                cmp.rule.min_memory_gib);
  t.note = rule;
  if (!cmp.noise_note.empty()) t.note += " Note: " + cmp.noise_note + ".";
  t.header = {"benchmark", "old ms", "new ms", "change", "control", "controlled change", "noise",
              "time", "old GiB", "new GiB", "memory"};
  auto rank = [](const PerfChange& c) {
    if (c.flagged_bad()) return 0;
    if (c.time == Verdict::improvement || c.time == Verdict::now_runs || c.memory == Verdict::improvement) return 1;
    if (c.time == Verdict::noise_unknown || c.time == Verdict::not_run) return 2;
    return 3;
  };
  std::vector<const PerfChange*> order;
  for (const PerfChange& c : cmp.changes) order.push_back(&c);
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) { return rank(*a) < rank(*b); });
  int quiet = 0, left_out = 0;
  for (const PerfChange* c : order) {
    if (rank(*c) == 3 && max_quiet_rows >= 0 && quiet++ >= max_quiet_rows) {
      ++left_out;
      continue;
    }
    auto tone = [](Verdict v) {
      if (is_flagged_bad(v)) return CellTone::bad;
      if (v == Verdict::improvement || v == Verdict::now_runs) return CellTone::good;
      return CellTone::muted;
    };
    auto ms_cell = [](const PerfResult* r, double ms) {
      return r->ok() ? PerfCell{format_ms(ms)} : PerfCell{status_name(r->status), CellTone::muted};
    };
    const bool both_ok = c->old_result->ok() && c->new_result->ok();
    t.rows.push_back({{c->key.name()},
                      ms_cell(c->old_result, c->old_ms),
                      ms_cell(c->new_result, c->new_ms),
                      both_ok ? PerfCell{pct(c->change_pct), c->control.empty() ? tone(c->time) : CellTone::plain}
                              : PerfCell{"–", CellTone::muted},
                      {c->control.empty() ? "–" : c->control, c->control.empty() ? CellTone::muted : CellTone::plain},
                      both_ok && !c->control.empty() ? PerfCell{pct(c->controlled_change_pct), tone(c->time)}
                                                     : PerfCell{"–", CellTone::muted},
                      {noise_cell(*c)},
                      {verdict_name(c->time), tone(c->time)},
                      {gib(c->old_mem_gib)},
                      {gib(c->new_mem_gib)},
                      {both_ok ? std::string(verdict_name(c->memory)) +
                                     (c->memory != Verdict::within_noise ? " (" + pct(c->mem_change_pct) + ")" : "")
                               : "–",
                       both_ok ? tone(c->memory) : CellTone::muted}});
  }
  if (left_out > 0)
    t.note += " " + std::to_string(left_out) + " more benchmarks within noise are listed in changes.csv.";
  if (!cmp.only_new.empty() || !cmp.only_old.empty())
    t.note += " Not compared: " + std::to_string(cmp.only_new.size()) + " new benchmarks, " +
              std::to_string(cmp.only_old.size()) + " no longer in this run.";
  return t;
}

std::string csv_of(const PerfTable& t) {
  auto field = [](const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  for (size_t i = 0; i < t.header.size(); ++i) out += (i ? "," : "") + field(t.header[i]);
  out += "\r\n";
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + field(row[i].text);
    out += "\r\n";
  }
  return out;
}

PerfCell failed_cell(const PerfResult& r) {
  return {status_name(r.status),
          r.status == RunStatus::unsupported || r.status == RunStatus::not_run ? CellTone::muted : CellTone::bad};
}

std::array<int, kRunStatusCount> status_counts(const PerfRun& run) {
  std::array<int, kRunStatusCount> n{};
  for (const auto& [k, r] : run.results) ++n[size_t(r.status)];
  return n;
}

std::string run_counts(const PerfRun& run) {
  const std::array<int, kRunStatusCount> n = status_counts(run);
  std::string s = std::to_string(run.results.size()) + " benchmarks: " + std::to_string(n[0]) + " ok";
  for (RunStatus st : {RunStatus::oom, RunStatus::unsupported, RunStatus::error, RunStatus::not_run})
    if (n[size_t(st)]) s += ", " + std::to_string(n[size_t(st)]) + " " + status_name(st);
  return s;
}

}  // namespace attn::report

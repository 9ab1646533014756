#include "reports/performance/perf_verdict.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "reports/detail/number_format.hpp"
#include "reports/performance/perf_failures.hpp"
#include "reports/performance/perf_palette.hpp"

namespace attn::report {
namespace {

using detail::fixed;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::string kWorkload = "train_step";

double rel_sd(const PerfResult& r) {
  return r.noise_measured && r.median_ms > 0 ? r.stddev_ms / r.median_ms : kNaN;
}

const PerfResult* ran(const PerfRun& run, const std::string& backend, const std::string& preset, std::int64_t L,
                      std::int64_t T) {
  const PerfResult* r = run.find(kWorkload, backend, preset, L, T);
  return r && r->ok() && r->median_ms > 0 ? r : nullptr;
}

VerdictFactor factor(const PerfResult& a, const PerfResult& b) {
  return {a.key.backend, b.key.backend, a.key.L, a.median_ms / b.median_ms, ratio_noise(a, b)};
}

std::string all_failures(const PerfRun& run, const std::string& backend, const std::string& preset, std::int64_t T) {
  std::string s;
  for (RunStatus st : {RunStatus::oom, RunStatus::error, RunStatus::unsupported, RunStatus::not_run}) {
    const std::string at = failed_L_text(run, kWorkload, backend, preset, T, st);
    if (!at.empty()) s += (s.empty() ? "" : ", ") + std::string(status_name(st)) + " at " + at;
  }
  return s;
}

std::string noise_text(double rel) {
  if (!std::isfinite(rel)) return "noise unknown";
  const double pct = 100 * rel;
  return "±" + fixed(pct, pct < 10 ? 1 : 0) + " %";
}

std::string ratio_text(double r) { return fixed(r, r < 10 ? 2 : 1) + "×"; }

}  // namespace

double ratio_noise(const PerfResult& a, const PerfResult& b) { return std::hypot(rel_sd(a), rel_sd(b)); }

const PerfResult* fastest_floor(const PerfRun& run, const std::string& preset, std::int64_t L, std::int64_t T) {
  const PerfResult* best = nullptr;
  for (const std::string& b : backends_of(run, preset)) {
    if (!is_floor_backend(b)) continue;
    const PerfResult* r = ran(run, b, preset, L, T);
    if (r && (!best || r->median_ms < best->median_ms)) best = r;
  }
  return best;
}

std::vector<PresetVerdict> preset_verdicts(const PerfRun& run) {
  std::vector<PresetVerdict> out;
  for (const std::string& p : run.presets) {
    const std::int64_t T = chosen_T(run, p);
    const std::vector<std::int64_t> Ls = distinct_L(run, p, kWorkload, T);
    if (Ls.empty()) continue;
    PresetVerdict v;
    v.preset = p;
    v.T = T;
    std::vector<std::string> non_floor;
    for (const std::string& b : backends_of(run, p)) {
      bool measured = false;
      for (std::int64_t L : Ls) measured = measured || run.find(kWorkload, b, p, L, T);
      if (measured && !is_floor_backend(b)) non_floor.push_back(b);
    }
    if (std::count(non_floor.begin(), non_floor.end(), "flash")) v.lead = "flash";
    else if (!non_floor.empty()) v.lead = non_floor.front();
    if (!v.lead.empty()) {
      // Lead vs the fastest floor: the largest and the smallest L where both ran.
      std::vector<VerdictFactor> both;
      for (std::int64_t L : Ls) {
        const PerfResult* lead = ran(run, v.lead, p, L, T);
        const PerfResult* floor = fastest_floor(run, p, L, T);
        if (lead && floor) both.push_back(factor(*lead, *floor));
      }
      if (!both.empty()) {
        v.lead_vs_floor.push_back(both.back());
        if (both.size() > 1) v.lead_vs_floor.push_back(both.front());
      }
      v.lead_failures = all_failures(run, v.lead, p, T);
    }
    for (const std::string& b : non_floor) {
      if (b == v.lead) continue;
      BackendVerdict o;
      o.backend = b;
      for (auto L = Ls.rbegin(); L != Ls.rend(); ++L) {
        const PerfResult* x = ran(run, b, p, *L, T);
        const PerfResult* lead = ran(run, v.lead, p, *L, T);
        if (x && lead) {
          o.factors.push_back(factor(*x, *lead));
          break;
        }
      }
      o.failures = all_failures(run, b, p, T);
      v.others.push_back(std::move(o));
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::string factor_text(const VerdictFactor& f, bool name_over) {
  return ratio_text(f.ratio) + (name_over ? " " + f.over : std::string()) + " (" + noise_text(f.rel_noise) + ")";
}

std::vector<std::string> verdict_sentences(const PresetVerdict& v) {
  std::string first = v.preset + ", training step at T " + std::to_string(v.T) + ": ";
  if (v.lead.empty()) {
    first += "only floors ran.";
    return {first};
  }
  first += v.lead;
  if (v.lead_vs_floor.empty()) {
    first += " has no floor measured beside it";
  } else {
    for (std::size_t i = 0; i < v.lead_vs_floor.size(); ++i) {
      const VerdictFactor& f = v.lead_vs_floor[i];
      const bool same_floor = i > 0 && f.over == v.lead_vs_floor[0].over;
      first += (i ? ", " : " ") + factor_text(f, !same_floor) + " at " + short_L(f.L);
    }
    if (v.lead_vs_floor.size() == 1) first += " (the only L where both ran)";
  }
  if (!v.lead_failures.empty()) first += "; " + v.lead_failures;
  first += ".";
  std::string second;
  for (const BackendVerdict& o : v.others) {
    std::string clause = o.backend;
    if (!o.factors.empty())
      clause += " " + factor_text(o.factors.front()) + " at " + short_L(o.factors.front().L);
    else
      clause += " never ran beside " + v.lead;
    if (!o.failures.empty()) clause += ", " + o.failures;
    second += (second.empty() ? "" : "; ") + clause;
  }
  if (second.empty()) return {first};
  return {first, second + "."};
}

PerfTable verdict_table(const PerfRun& run, const std::vector<PresetVerdict>& verdicts) {
  PerfTable t;
  t.title = "Headline: training step";
  t.note = "At the lengths the verdicts name: the lead backend's median step time, the fastest floor "
           "(plain causal attention, the smallest of the floor backends), and step-time ratios ± the "
           "repetitions' noise (above 1: slower). Peak memory above the inputs.";
  std::vector<std::string> others;
  for (const auto& v : verdicts)
    for (const auto& o : v.others)
      if (std::find(others.begin(), others.end(), o.backend) == others.end()) others.push_back(o.backend);
  std::string lead_name;
  for (const auto& v : verdicts)
    if (!v.lead.empty() && lead_name.empty()) lead_name = v.lead;
  bool one_lead = true;
  for (const auto& v : verdicts) one_lead = one_lead && (v.lead.empty() || v.lead == lead_name);
  const std::string lead = one_lead && !lead_name.empty() ? lead_name : "lead";
  t.header = {"preset", "T", "L", lead + " ms", "fastest floor ms", lead + " / floor"};
  for (const auto& b : others) t.header.push_back(b + " / " + lead);
  t.header.push_back(lead + " GiB");
  auto ratio_cell = [](const PerfResult* a, const PerfResult* b) -> PerfCell {
    if (!a || !b) return {"–", CellTone::muted};
    return {ratio_text(a->median_ms / b->median_ms) + " " + noise_text(ratio_noise(*a, *b))};
  };
  for (const PresetVerdict& v : verdicts) {
    if (v.lead.empty()) continue;
    std::vector<std::int64_t> Ls;
    for (const auto& f : v.lead_vs_floor) Ls.push_back(f.L);
    if (Ls.empty()) {
      const auto all = distinct_L(run, v.preset, kWorkload, v.T);
      Ls = {all.back()};
    }
    for (std::int64_t L : Ls) {
      const PerfResult* lead_r = run.find(kWorkload, v.lead, v.preset, L, v.T);
      const PerfResult* floor = fastest_floor(run, v.preset, L, v.T);
      std::vector<PerfCell> row{{v.preset}, {std::to_string(v.T)}, {short_L(L)}};
      if (!lead_r) row.push_back({"–", CellTone::muted});
      else if (!lead_r->ok()) row.push_back({status_name(lead_r->status), CellTone::bad});
      else row.push_back({(one_lead ? "" : v.lead + " ") + format_ms(lead_r->median_ms)});
      row.push_back(floor ? PerfCell{format_ms(floor->median_ms) + " (" + floor->key.backend + ")"}
                          : PerfCell{"–", CellTone::muted});
      const PerfResult* lead_ok = lead_r && lead_r->ok() ? lead_r : nullptr;
      row.push_back(ratio_cell(lead_ok, floor));
      for (const auto& b : others) {
        const PerfResult* x = run.find(kWorkload, b, v.preset, L, v.T);
        row.push_back(x && !x->ok() ? failed_cell(*x) : ratio_cell(x, lead_ok));
      }
      row.push_back(lead_ok && std::isfinite(lead_ok->peak_mem_gib)
                        ? PerfCell{fixed(lead_ok->peak_mem_gib, lead_ok->peak_mem_gib < 10 ? 2 : 1)}
                        : PerfCell{"–", CellTone::muted});
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

std::string verdict_legend() {
  return "Factors are ratios of median step times (above 1: slower), ± the relative standard deviation "
         "of the ratio from the repetitions (both backends' relative stddevs combined). The lead backend "
         "(flash where it ran) is compared with the fastest floor (the smallest of floor, floor-fa2, "
         "floor-cudnn and floor-sdpa: plain causal attention, docs/flash-path.md) at the largest and the "
         "smallest L where both ran, the other backends with the lead at the largest L where both ran.";
}

}  // namespace attn::report

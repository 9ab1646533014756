#include "harness/selftest/calibration_formats.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "reports/detail/text_table.hpp"

namespace attn::cli::selftest {
namespace {

using report::TextTable;

std::string num(double x) {
  if (std::isinf(x)) return "inf";
  if (std::isnan(x)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, (x != 0 && (std::fabs(x) >= 1000 || std::fabs(x) < 0.01)) ? "%.2e" : "%.3f", x);
  return buf;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "," : ",") + x;
  return s.empty() ? s : s.substr(1);
}

std::string scales(const std::vector<double>& v) {
  std::string s;
  for (double x : v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", x);
    s += (s.empty() ? "" : ",") + std::string(buf);
  }
  return s;
}

}  // namespace

std::string format_calibration_text(const CalibrationResult& r) {
  std::ostringstream o;
  const CalibrationPlan& p = r.plan;
  std::string steps;
  for (int64_t t : p.steps) steps += (steps.empty() ? "" : ",") + std::to_string(t);
  if (r.source == "recorded")
    o << "attn-harness calibrate over " << r.cases.size() << " recorded cases (outputs recorded on "
      << r.device << "), baseline " << r.baseline << ", profile " << r.profile;
  else
    o << "attn-harness calibrate on " << r.device << ": " << r.cases.size() << " cases ("
      << p.seeds << " seeds from " << p.seed_base << " x presets " << join(p.presets) << " x t "
      << steps << " x grad_out scales " << scales(p.grad_scales) << ", L " << p.seq << ", batch "
      << p.batch << " with the second and later elements padded by L/8), baseline " << r.baseline
      << ", profile " << r.profile
    << (r.budgets.empty() ? " (no budgets)" : " with the budgets of " + r.budgets) << "; "
    << num(r.seconds) << " s\n";
  for (const BackendCalibration& b : r.backends) {
    o << "\n" << b.name << " (" << b.key << "): " << b.cases << " cases, fails the profile on "
      << b.failures << "; highest use " << num(b.max_use) << " (" << b.max_use_where
      << "), margin to a false alarm " << (b.max_use > 0 ? num(1 / b.max_use) + "x" : "-") << "\n";
    TextTable t({"kind", "n", "err/max|ref|: median", "p95", "max", "err_c/err_b: median", "max",
                 "use: median", "p95", "max", "worst err (case:tensor)"},
                {false, true, true, true, true, true, true, true, true, true, false});
    for (const KindCalibration& k : b.kinds)
      t.add({k.kind, std::to_string(k.rel_err.n), num(k.rel_err.median), num(k.rel_err.p95),
             num(k.rel_err.max), num(k.ratio.median), num(k.ratio.max), num(k.use.median),
             num(k.use.p95), num(k.use.max), k.worst_rel_err});
    o << t.str("  ");
  }
  o << "\nerr/max|ref| is the backend's error relative to the tensor's largest reference value "
       "(what an error budget bounds: budget = headroom x its max); use = err_c / threshold under "
       "the profile (pass iff <= 1).\n";
  if (!r.mutants.empty()) {
    o << "\nMutants on the same cases, judged under the budget key of the real path. margin: the "
         "largest per-case use (the worst tensor's err_c / threshold), by grad_out scale; caught "
         "at a scale when > 1 (target >= 5); weakest: the smallest use among flagged cases.\n";
    TextTable t({"mutant", "unit: flagged", "margin", "weakest", "realistic: flagged", "margin",
                 "weakest", "where (unit margin)"},
                {false, true, true, true, true, true, true, false});
    for (const MutantCalibration& m : r.mutants) {
      auto cell = [](const MutantCalibration::Scale& s) {
        return std::to_string(s.flagged) + "/" + std::to_string(s.cases);
      };
      t.add({m.name, cell(m.unit), num(m.unit.margin), m.unit.flagged ? num(m.unit.weakest_flag) : "-",
             cell(m.realistic), num(m.realistic.margin),
             m.realistic.flagged ? num(m.realistic.weakest_flag) : "-", m.unit.margin_where});
    }
    o << t.str("  ");
  }
  if (!r.skipped.empty()) {
    o << "\nSkipped:\n";
    for (const auto& s : r.skipped) o << "  - " << s << "\n";
  }
  return o.str();
}

nlohmann::json calibration_json(const CalibrationResult& r) {
  using nlohmann::json;
  auto number = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  auto dist = [&](const Distribution& d) {
    return json{{"n", d.n}, {"min", number(d.min)}, {"median", number(d.median)},
                {"p95", number(d.p95)}, {"max", number(d.max)}};
  };
  const CalibrationPlan& p = r.plan;
  json j{{"schema", "attn-harness.calibrate/2"},
         {"device", r.device},
         {"source", r.source},
         {"profile", r.profile},
         {"budgets", r.budgets},
         {"baseline", r.baseline},
         {"plan", {{"presets", p.presets}, {"t", p.steps}, {"grad_scales", p.grad_scales},
                   {"seeds", p.seeds}, {"seed_base", p.seed_base}, {"seq", p.seq}, {"batch", p.batch}}},
         {"cases", r.cases},
         {"skipped", r.skipped},
         {"seconds", r.seconds},
         {"real_failures", r.real_failures()}};
  j["backends"] = json::array();
  for (const auto& b : r.backends) {
    json kinds = json::array();
    for (const auto& k : b.kinds)
      kinds.push_back({{"kind", k.kind}, {"rel_err", dist(k.rel_err)}, {"ratio", dist(k.ratio)},
                       {"use", dist(k.use)}, {"worst_rel_err", k.worst_rel_err},
                       {"worst_use", k.worst_use}});
    j["backends"].push_back({{"name", b.name}, {"key", b.key}, {"cases", b.cases},
                             {"failures", b.failures}, {"max_use", number(b.max_use)},
                             {"max_use_where", b.max_use_where}, {"kinds", kinds}});
  }
  j["mutants"] = json::array();
  for (const auto& m : r.mutants) {
    auto scale = [&](const MutantCalibration::Scale& s) {
      return json{{"cases", s.cases}, {"flagged", s.flagged}, {"margin", number(s.margin)},
                  {"weakest_flag", number(s.weakest_flag)}, {"median_use", number(s.median_use)},
                  {"margin_where", s.margin_where}};
    };
    j["mutants"].push_back({{"name", m.name}, {"unit", scale(m.unit)}, {"realistic", scale(m.realistic)}});
  }
  return j;
}

}  // namespace attn::cli::selftest

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "reports/accuracy/comparison_formats.hpp"
#include "reports/detail/number_format.hpp"
#include "reports/detail/text_table.hpp"

namespace attn::report {

using detail::count;
using detail::fixed;
using detail::sci;
using report::TextTable;

std::vector<const TensorComparison*> tensors_to_detail(const CaseComparison& c) {
  std::vector<const TensorComparison*> out;
  for (const auto& t : c.tensors)
    if (t.gate.judged && !t.gate.passed) out.push_back(&t);
  if (!out.empty()) return out;
  const TensorComparison* top = nullptr;
  for (const auto& t : c.tensors) {
    const double u = t.gate.judged ? t.gate.use() : -1.0;
    const double best = top ? (top->gate.judged ? top->gate.use() : -1.0) : -2.0;
    if (u > best) top = &t;
  }
  if (top) out.push_back(top);
  return out;
}

std::vector<const RegionStats*> regions_to_show(const TensorComparison& t, const std::string& kind,
                                                size_t top) {
  std::vector<const RegionStats*> rs;
  for (const auto& r : t.regions)
    if (r.kind == kind) rs.push_back(&r);
  if (top && rs.size() > top) {
    std::stable_sort(rs.begin(), rs.end(), [](const RegionStats* a, const RegionStats* b) {
      return a->candidate_max_abs > b->candidate_max_abs;
    });
    rs.resize(top);
  }
  return rs;
}

std::string profile_description(const GateProfile& p) {
  std::string s = p.name + " (" + p.mode_name();
  if (p.floor_ulps > 0)
    s += ", floor " + fixed(p.floor_ulps, 1) + " ulp at max|ref|";
  else if (p.floor_factor > 0) {
    const std::string off = fixed(p.floor_offset, 2) + (p.floor_offset_scaled ? "*max|ref|" : "");
    s += ", floor " + fixed(p.floor_factor, 1) + " x |(x+" + off + "-" + off + ")-x|";
  } else {
    s += ", no floor";
  }
  if (p.budgets) s += ", error budgets";
  return s + ")";
}

namespace {

std::string coordinate(const TensorComparison& t, const WorstElement& w) {
  std::ostringstream o;
  o << t.name << "[b=" << w.b << (t.id.per_kv_head() ? " kvh=" : " h=") << w.head
    << (t.id.per_kv_head() ? " j=" : " i=") << w.row;
  if (w.col >= 0) o << " d=" << w.col;
  o << "]";
  return o.str();
}

std::string verdict_word(const TensorComparison& t) {
  if (!t.gate.judged) return "not judged";
  return t.gate.passed ? "pass" : "FAIL";
}

double ratio_cb(const TensorComparison& t) {
  const auto& g = t.gate;
  if (!t.baseline) return std::numeric_limits<double>::quiet_NaN();
  if (g.err_b > 0) return g.err_c / g.err_b;
  return g.err_c > 0 ? std::numeric_limits<double>::infinity() : 1.0;
}

std::string regions_text(const TensorComparison& t) {
  std::ostringstream o;
  const bool base = t.baseline.has_value();
  auto table = [&](const std::string& kind, size_t top) {
    const std::vector<const RegionStats*> rs = regions_to_show(t, kind, top);
    if (rs.empty()) return;
    TextTable tt({kind == "rows" ? "rows (deciles)" : kind == "group" ? "GQA group" : "head (worst first)",
                  "elements", "max err cand", "mean err cand", "max err base"},
                 {false, true, true, true, true});
    for (const RegionStats* r : rs)
      tt.add({r->label, std::to_string(r->elements), sci(r->candidate_max_abs),
              sci(r->candidate_mean_abs), base ? sci(r->baseline_max_abs) : "-"});
    o << tt.str("  ");
  };
  table("rows", 0);
  table("group", 0);
  table("head", 5);
  return o.str();
}

std::string blocks_text(const CaseComparison& c) {
  TextTable tt({"block", "dk err cand", "dk use", "dv err cand", "dv use"}, {true, true, true, true, true});
  for (int64_t m = 0; m <= c.config.t; ++m) {
    const TensorComparison *dk = nullptr, *dv = nullptr;
    for (const auto& t : c.tensors) {
      if (t.id.block != m) continue;
      if (t.id.kind == TensorKind::dk) dk = &t;
      if (t.id.kind == TensorKind::dv) dv = &t;
    }
    if (!dk && !dv) continue;
    auto use = [](const TensorComparison* t) { return t && t->gate.judged ? fixed(t->gate.use()) : "-"; };
    tt.add({std::to_string(m) + (m == 0 ? " (prefix)" : ""), dk ? sci(dk->gate.err_c) : "-", use(dk),
            dv ? sci(dv->gate.err_c) : "-", use(dv)});
  }
  return tt.empty() ? "" : tt.str("  ");
}

std::string invalid_rows_line(const CaseComparison& c) {
  const auto& ir = c.invalid_rows;
  std::ostringstream o;
  o << c.candidate.name << " declares " << ir.declared
    << (ir.declared_explicitly ? "" : " (no invalid_rows attribute)");
  if (!ir.checked) return o.str() + ": not checked";
  if (ir.passed) {
    int64_t n = 0;
    for (const auto& t : ir.tensors) n += t.elements;
    return o.str() + ": all " + std::to_string(n) + " values on invalid rows are 0";
  }
  o << ": VIOLATED" << (c.options.enforce_invalid_rows ? "" : " (reported only: --invalid-rows warn)");
  return o.str();
}

}  // namespace

std::string invalid_rows_details(const CaseComparison& c, const std::string& indent) {
  std::string s;
  for (const auto& t : c.invalid_rows.tensors)
    if (t.violations)
      s += indent + t.name + ": " + std::to_string(t.violations) + " of " + std::to_string(t.elements) +
           " values non-zero in " + std::to_string(t.rows) + " rows (" + t.rows_text + "); largest |x| " +
           sci(t.max_abs) + " at " + t.worst_at + "\n";
  return s;
}

std::string format_comparison_text(const CaseComparison& c) {
  std::ostringstream o;
  const auto& k = c.config;
  o << "compare " << c.candidate.name << " vs the fp64 reference"
    << (c.baseline ? ", baseline " + c.baseline->name : ", no baseline") << ", profile "
    << profile_description(c.profile) << (c.budgets_apply ? ", budgets of " + c.budget_key : "") << "\n";
  o << "case " << (c.case_path.empty() ? "(in memory)" : c.case_path) << "  B=" << k.B
    << " H=" << k.H << " Hkv=" << k.Hkv << " L=" << k.L << " D=" << k.D << " t=" << k.t << " "
    << data::to_string(k.dtype) << "  valid rows [";
  for (size_t b = 0; b < c.valid_rows.size(); ++b) o << (b ? ", " : "") << c.valid_rows[b];
  o << "]\n\n";

  TextTable tt({"tensor", "dtype", "err cand", "err base", "c/b", "max|ref|", "threshold", "bound",
                "use", "ULP p50/p99/max", "nonfinite", "verdict"},
               {false, false, true, true, true, true, true, false, true, true, true, false});
  for (const auto& t : c.tensors) {
    const auto& g = t.gate;
    tt.add({t.name, data::to_string(t.candidate.dtype), sci(g.err_c), t.baseline ? sci(g.err_b) : "-",
            t.baseline ? fixed(ratio_cb(t)) : "-", sci(t.reference_max_abs),
            g.judged ? sci(g.threshold) : "-", g.judged ? g.bound : "-",
            g.judged ? fixed(g.use()) : "-",
            count(t.candidate.ulp_p50) + "/" + count(t.candidate.ulp_p99) + "/" + count(t.candidate.ulp_max),
            std::to_string(t.candidate.nonfinite()), verdict_word(t)});
  }
  o << tt.str();
  o << "  err = max |x - ref| over valid elements; use = err cand / threshold (pass iff <= 1); bound: "
       "which limit the threshold is (the rule r x err base + floor, or the error budget x max|ref|); "
       "ULP in the candidate's dtype over elements with |ref| >= max|ref| / "
    << fixed(1.0 / c.options.ulp_min_fraction, 0) << "\n";

  const std::string blocks = blocks_text(c);
  if (!blocks.empty()) o << "\ncache blocks:\n" << blocks;

  for (const TensorComparison* t : tensors_to_detail(c)) {
    if (!t->worst.empty()) {
      o << "\nworst elements of " << t->name << " (" << t->worst.size()
        << "; rel err = |err| / max(|ref|, " << sci(t->relative_floor) << ")):\n";
      TextTable wt({"element", "reference", "candidate", "baseline", "|err|", "rel err", "ulp"},
                   {false, true, true, true, true, true, true});
      for (const auto& w : t->worst)
        wt.add({coordinate(*t, w), sci(w.reference, 4), sci(w.candidate, 4),
                t->baseline ? sci(w.baseline, 4) : "-", sci(w.abs_err), sci(w.rel_err), count(w.ulp)});
      o << wt.str("  ");
    }
    o << "\nregions of " << t->name << ":\n" << regions_text(*t);
  }

  o << "\ninvalid rows: " << invalid_rows_line(c) << "\n" << invalid_rows_details(c, "  ");
  for (const std::string& n : c.notes) o << "note: " << n << "\n";
  const auto failed = c.failed_tensors();
  if (failed.empty() && !c.invalid_rows_failed()) {
    o << "verdict: PASS (" << c.judged() << " of " << c.tensors.size() << " tensors judged)\n";
  } else {
    o << "verdict: FAIL:";
    for (const auto& f : failed) o << " " << f;
    if (c.invalid_rows_failed()) o << " invalid-rows";
    o << " (" << failed.size() << " of " << c.judged() << " judged tensors fail"
      << (c.invalid_rows_failed() ? "; the invalid-row contract is violated" : "") << ")\n";
    for (const auto& t : c.tensors)
      if (t.gate.judged && !t.gate.passed) o << "  " << t.name << ": " << t.gate.reason << "\n";
  }
  return o.str();
}

std::string format_gate_case_line(const GateCaseResult& r) {
  if (!r.comparison) return "ERROR " + r.case_path + ": " + r.error + "\n";
  const CaseComparison& c = *r.comparison;
  std::ostringstream o;
  const auto failed = c.failed_tensors();
  double worst_use = 0;
  std::string worst_name = "-";
  for (const auto& t : c.tensors)
    if (t.gate.judged && t.gate.use() >= worst_use) {
      worst_use = t.gate.use();
      worst_name = t.name;
    }
  const std::string budgets = c.budgets_apply ? "; budgets " + c.budget_key : "";
  if (c.passed) {
    o << "PASS  " << r.case_path << " (" << c.judged() << "/" << c.judged()
      << " tensors; highest err_c/threshold " << fixed(worst_use) << " on " << worst_name << budgets
      << ")\n";
  } else {
    o << "FAIL  " << r.case_path << " (" << failed.size() << " of " << c.judged()
      << " tensors fail" << (c.invalid_rows_failed() ? ", invalid-row contract violated" : "")
      << budgets << ")\n";
    for (const auto& t : c.tensors)
      if (t.gate.judged && !t.gate.passed) o << "      " << t.name << ": " << t.gate.reason << "\n";
    if (c.invalid_rows_failed())
      o << "      invalid rows (declared zeros):\n" << invalid_rows_details(c, "        ");
  }
  if (c.passed && c.invalid_rows.checked && !c.invalid_rows.passed)
    o << "      invalid-row contract violated (reported only: --invalid-rows warn)\n";
  for (const std::string& n : c.notes) o << "      note: " << n << "\n";
  return o.str();
}

std::string format_gate_total(const GateRun& run) {
  std::ostringstream o;
  const int code = run.exit_code();
  o << "gate " << (code == 0 ? "PASS" : code == 1 ? "FAIL" : "ERROR") << ": " << run.cases.size()
    << " case(s), " << run.failed_cases() << " failing, " << run.error_cases()
    << " with input errors; " << run.judged_tensors() << " tensors judged, "
    << run.failed_tensors() << " failing (candidate " << run.candidate
    << (run.baseline.empty() ? "" : ", baseline " + run.baseline) << ", profile "
    << run.profile.name << "); exit " << code << "\n";
  return o.str();
}

}  // namespace attn::report

#include <algorithm>
#include <sstream>

#include "reports/accuracy/comparison_formats.hpp"
#include "reports/detail/number_format.hpp"

namespace attn::report {

using detail::count;
using detail::fixed;
using detail::sci;

namespace {

void regions_markdown(std::ostringstream& o, const TensorComparison& t) {
  const bool base = t.baseline.has_value();
  auto table = [&](const std::string& kind, const std::string& title, size_t top) {
    const std::vector<const RegionStats*> rs = regions_to_show(t, kind, top);
    if (rs.empty()) return;
    o << "\n| " << title << " | elements | max err cand | mean err cand | max err base |\n"
      << "|---|---:|---:|---:|---:|\n";
    for (const RegionStats* r : rs)
      o << "| " << r->label << " | " << r->elements << " | " << sci(r->candidate_max_abs) << " | "
        << sci(r->candidate_mean_abs) << " | " << (base ? sci(r->baseline_max_abs) : "-") << " |\n";
  };
  table("rows", "rows (deciles)", 0);
  table("group", "GQA group", 0);
  table("head", "head (worst 5)", 5);
}

}  // namespace

std::string comparison_markdown(const CaseComparison& c) {
  std::ostringstream o;
  const auto& k = c.config;
  o << "### attn-harness compare: " << (c.passed ? "PASS" : "**FAIL**") << " - `"
    << c.candidate.name << "` vs fp64 reference"
    << (c.baseline ? ", baseline `" + c.baseline->name + "`" : ", no baseline") << ", profile `"
    << profile_description(c.profile) << "`"
    << (c.budgets_apply ? ", budgets of `" + c.budget_key + "`" : "") << "\n\n";
  o << "Case `" << (c.case_path.empty() ? "(in memory)" : c.case_path) << "`: B=" << k.B
    << ", H=" << k.H << ", Hkv=" << k.Hkv << ", L=" << k.L << ", D=" << k.D << ", t=" << k.t
    << ", " << data::to_string(k.dtype) << "; valid rows";
  for (size_t b = 0; b < c.valid_rows.size(); ++b) o << (b ? ", " : " ") << c.valid_rows[b];
  o << ". Errors are max |x - ref| over valid elements; use = err_c / threshold (pass iff <= 1); "
       "bound says whether the threshold is the rule's (r x err base + floor) or the error "
       "budget's (budget x max|ref|); ULP in the candidate tensor's dtype, over elements with "
       "|ref| >= max|ref| / "
    << fixed(1.0 / c.options.ulp_min_fraction, 0) << ".\n\n";

  o << "| tensor | dtype | max err cand | max err base | mean err cand | max\\|ref\\| | threshold | bound | use | ULP "
       "p50/p99/max | NaN/Inf | assert_close mismatches | old rule | gate |\n";
  o << "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|\n";
  for (const auto& t : c.tensors) {
    const auto& g = t.gate;
    const auto& s = t.candidate;
    o << "| " << t.name << " | " << data::to_string(s.dtype) << " | " << sci(g.err_c) << " | "
      << (t.baseline ? sci(g.err_b) : "-") << " | " << sci(s.mean_abs) << " | "
      << sci(t.reference_max_abs) << " | " << (g.judged ? sci(g.threshold) : "-") << " | "
      << (g.judged ? g.bound : "-") << " | " << (g.judged ? fixed(g.use()) : "-") << " | "
      << count(s.ulp_p50) << "/" << count(s.ulp_p99) << "/" << count(s.ulp_max) << " | "
      << s.nan << "/" << s.inf << " | " << s.assert_close_mismatches << " of " << s.elements
      << " | " << (s.old_rule_pass ? "pass" : "fail") << " | "
      << (!g.judged ? "not judged" : g.passed ? "pass" : "**FAIL**") << " |\n";
  }

  for (const TensorComparison* t : tensors_to_detail(c)) {
    o << "\n<details><summary>" << t->name << ": worst elements and regions</summary>\n";
    if (!t->worst.empty()) {
      o << "\nrel err = |err| / max(|ref|, " << sci(t->relative_floor) << ")\n\n";
      o << "| b | " << (t->id.per_kv_head() ? "kv head" : "head") << " | row | d | reference | "
        << "candidate | baseline | abs err | rel err | ULP |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
      for (const auto& w : t->worst)
        o << "| " << w.b << " | " << w.head << " | " << w.row << " | "
          << (w.col >= 0 ? std::to_string(w.col) : "-") << " | " << sci(w.reference, 4) << " | "
          << sci(w.candidate, 4) << " | " << (t->baseline ? sci(w.baseline, 4) : "-") << " | "
          << sci(w.abs_err) << " | " << sci(w.rel_err) << " | " << count(w.ulp) << " |\n";
    }
    regions_markdown(o, *t);
    o << "\n</details>\n";
  }

  const auto& ir = c.invalid_rows;
  o << "\nInvalid rows: `" << c.candidate.name << "` declares `" << ir.declared << "`";
  if (!ir.checked) {
    o << ", not checked.\n";
  } else if (ir.passed) {
    o << ": every value on invalid rows is 0.\n";
  } else {
    o << ": **violated**" << (c.options.enforce_invalid_rows ? "" : " (reported only)") << ":\n\n"
      << invalid_rows_details(c, "- ");
  }
  for (const std::string& n : c.notes) o << "\nNote: " << n << "\n";
  const auto failed = c.failed_tensors();
  if (!failed.empty()) {
    o << "\nFailing:\n";
    for (const auto& t : c.tensors)
      if (t.gate.judged && !t.gate.passed) o << "- `" << t.name << "`: " << t.gate.reason << "\n";
  }
  return o.str();
}

}  // namespace attn::report

#include <sstream>

#include "reports/comparison_formats.hpp"
#include "reports/detail/number_format.hpp"

namespace attn::report {

using detail::count;
using detail::fixed;
using detail::sci;

std::string comparison_markdown(const CaseComparison& c) {
  std::ostringstream o;
  const auto& k = c.config;
  o << "### attn-harness compare: " << (c.passed ? "PASS" : "**FAIL**") << " - `"
    << c.candidate.name << "` vs fp64 reference"
    << (c.baseline ? ", baseline `" + c.baseline->name + "`" : ", no baseline") << ", profile `"
    << c.profile.name << "` (" << c.profile.mode_name() << ")\n\n";
  o << "Case `" << (c.case_path.empty() ? "(in memory)" : c.case_path) << "`: B=" << k.B
    << ", H=" << k.H << ", Hkv=" << k.Hkv << ", L=" << k.L << ", D=" << k.D << ", t=" << k.t
    << ", " << data::to_string(k.dtype) << "; valid rows";
  for (size_t b = 0; b < c.valid_rows.size(); ++b) o << (b ? ", " : " ") << c.valid_rows[b];
  o << ". Errors are over valid elements; ULP in the candidate tensor's dtype; use = err_c / "
       "threshold (pass iff <= 1).\n\n";

  o << "| tensor | dtype | max err cand | max err base | mean err cand | threshold | use | ULP "
       "p50/p99/max | NaN/Inf | assert_close mismatches | old rule | gate |\n";
  o << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
  for (const auto& t : c.tensors) {
    const auto& g = t.gate;
    const auto& s = t.candidate;
    o << "| " << t.name << " | " << data::to_string(s.dtype) << " | " << sci(g.err_c) << " | "
      << (t.baseline ? sci(g.err_b) : "-") << " | " << sci(s.mean_abs) << " | "
      << (g.judged ? sci(g.threshold) : "-") << " | " << (g.judged ? fixed(g.use()) : "-")
      << " | " << count(s.ulp_p50) << "/" << count(s.ulp_p99) << "/" << count(s.ulp_max) << " | "
      << s.nan << "/" << s.inf << " | " << s.assert_close_mismatches << " of " << s.elements
      << " | " << (s.old_rule_pass ? "pass" : "fail") << " | "
      << (!g.judged ? "not judged" : g.passed ? "pass" : "**FAIL**") << " |\n";
  }

  for (const TensorComparison* t : tensors_to_detail(c)) {
    if (t->worst.empty()) continue;
    o << "\n<details><summary>Worst elements of " << t->name << "</summary>\n\n";
    o << "| b | " << (t->id.per_kv_head() ? "kv head" : "head") << " | row | d | reference | "
      << "candidate | baseline | abs err | rel err | ULP |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& w : t->worst)
      o << "| " << w.b << " | " << w.head << " | " << w.row << " | "
        << (w.col >= 0 ? std::to_string(w.col) : "-") << " | " << sci(w.reference, 4) << " | "
        << sci(w.candidate, 4) << " | " << (t->baseline ? sci(w.baseline, 4) : "-") << " | "
        << sci(w.abs_err) << " | " << sci(w.rel_err) << " | " << count(w.ulp) << " |\n";
    o << "\n</details>\n";
  }

  const auto& ir = c.invalid_rows;
  o << "\nInvalid rows (not part of the gate): `" << c.candidate.name << "` declares `"
    << ir.declared << "`";
  if (!ir.checked) {
    o << ", not checked.\n";
  } else if (ir.passed) {
    o << ": every value on invalid rows is 0.\n";
  } else {
    o << ": **violated**:";
    for (const auto& t : ir.tensors)
      if (t.violations)
        o << " " << t.name << " " << t.violations << " of " << t.elements << " non-zero (max |x| "
          << sci(t.max_abs) << ");";
    o << "\n";
  }
  const auto failed = c.failed_tensors();
  if (!failed.empty()) {
    o << "\nFailing:\n";
    for (const auto& t : c.tensors)
      if (t.gate.judged && !t.gate.passed) o << "- `" << t.name << "`: " << t.gate.reason << "\n";
  }
  return o.str();
}

}  // namespace attn::report

#include "harness/selftest/selftest_formats.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace attn::cli::selftest {
namespace {

std::string frac(const Count& c) { return std::to_string(c.flagged) + "/" + std::to_string(c.of); }

std::string num(double x) {
  if (std::isinf(x)) return "inf";
  if (std::isnan(x)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, x >= 1000 || (x > 0 && x < 0.01) ? "%.1e" : "%.2f", x);
  return buf;
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s + " ";
}

std::string legend(const DetectionMatrix& m) {
  std::ostringstream o;
  o << "Counts are flagged cases / cases run (a case is flagged when a tensor fails). default: "
       "profile "
    << m.default_profile << " (err_c <= r err_b + 1 ulp at max|ref|, and err_c <= budget x max|ref|"
    << (m.budgets.empty() ? ": no budget applies here" : ", budgets from " + m.budgets)
    << "); margin: the largest per-case err_c/threshold of the worst tensor under the default gate, "
       "at unit / realistic grad_out (a mutant is caught with margin > 1, the target is >= 5; the "
       "real path's target is <= 0.5); first rule: "
    << m.first_rule_profile
    << " (err_c <= r err_b + 2 max|(x+0.3-0.3)-x|); unit / real: grad_out of unit scale / "
       "realistic scale (1e-3); old rule: cosine >= 0.975 and |norm ratio - 1| <= 2.5 % on any "
       "tensor / on out alone; assert_close: bf16 defaults (rtol 1.6e-2, atol 1e-5) on any tensor; "
       "worst ratio: max over cases and tensors of err_c / err_b (baseline "
    << m.baseline << "); invalid rows: the declared zeros contract broken.";
  return o.str();
}

std::string summary_line(const DetectionMatrix& m) {
  int gate_mutants = 0, gate_caught = 0, inv_mutants = 0, inv_caught = 0;
  for (const VariantRow& r : m.rows) {
    if (r.expect == Expect::gate) gate_mutants++, gate_caught += r.ok;
    if (r.expect == Expect::invalid_rows) inv_mutants++, inv_caught += r.ok;
  }
  std::ostringstream o;
  o << "selftest: " << (m.passed ? "PASSED" : "FAILED") << " (";
  if (!m.rows.empty() && m.rows.front().expect == Expect::pass)
    o << m.rows.front().name << " " << (m.rows.front().ok ? "passes" : "does NOT pass")
      << " the default gate on every case; ";
  o << gate_caught << "/" << gate_mutants << " mutants caught by the default gate";
  if (inv_mutants) o << ", " << inv_caught << "/" << inv_mutants << " invalid-row-only mutants flagged by the invalid-row check";
  o << ")";
  return o.str();
}

}  // namespace

std::string format_matrix_text(const DetectionMatrix& m) {
  std::ostringstream o;
  o << "attn-harness selftest on " << m.device << ": " << m.case_names.size() << " cases ("
    << m.unit_cases << " with unit-scale grad_out, " << m.realistic_cases
    << " with realistic grad_scale 1e-3), baseline " << m.baseline << ", fp64 reference\n\n";
  size_t w = 8;
  for (const VariantRow& r : m.rows) w = std::max(w, r.name.size());
  o << pad("", w) << pad("", 13) << pad("default gate", 12) << pad("margin", 16)
    << pad("first rule", 12) << pad("old rule", 9) << pad("assert", 6) << pad("worst err_c/err_b", 22)
    << pad("invalid", 7) << "\n";
  o << pad("variant", w) << pad("expected", 13) << pad("unit", 5) << pad("real", 6) << pad("unit", 7)
    << pad("real", 8) << pad("unit", 5) << pad("real", 6) << pad("any", 4) << pad("out", 4)
    << pad("close", 6) << pad("", 22) << pad("rows", 7) << "verdict\n";
  for (const VariantRow& r : m.rows) {
    o << pad(r.name, w) << pad(to_string(r.expect), 13) << pad(frac(r.default_unit), 5)
      << pad(frac(r.default_realistic), 6) << pad(r.default_unit.of ? num(r.margin_unit) : "-", 7)
      << pad(r.default_realistic.of ? num(r.margin_realistic) : "-", 8) << pad(frac(r.first_unit), 5)
      << pad(frac(r.first_realistic), 6) << pad(frac(r.old_rule), 4) << pad(frac(r.old_rule_out), 4)
      << pad(frac(r.assert_close), 6)
      << pad(r.worst_ratio_tensor.empty() ? "-" : num(r.worst_ratio) + " " + r.worst_ratio_tensor, 22)
      << pad(frac(r.invalid_rows), 7) << r.verdict << (r.errors ? " (" + std::to_string(r.errors) + " errors)" : "")
      << "\n";
  }
  o << "\n" << legend(m) << "\n";

  // Per case: the tensors the default gate flags ('.' passes, '!' did not run, '+i' invalid rows).
  o << "\nDefault gate per case (number of failing tensors; . passes; ! did not run; i: invalid "
       "rows flagged):\n";
  o << pad("", w);
  for (size_t c = 0; c < m.case_names.size(); ++c) o << pad("c" + std::to_string(c + 1), 5);
  o << "\n";
  for (const VariantRow& r : m.rows) {
    o << pad(r.name, w);
    for (const CaseVerdicts& c : r.cases) {
      std::string cell = !c.ran() ? "!" : c.default_flagged() ? std::to_string(c.default_failed.size()) : ".";
      if (c.ran() && c.invalid_rows_flagged()) cell += "i";
      o << pad(cell, 5);
    }
    o << "\n";
  }
  for (size_t c = 0; c < m.case_names.size(); ++c)
    o << "  c" << c + 1 << " = " << m.case_names[c] << "\n";

  if (!m.notes.empty()) {
    o << "\nNotes:\n";
    for (const auto& n : m.notes) o << "  - " << n << "\n";
  }
  if (!m.problems.empty()) {
    o << "\nProblems:\n";
    for (const auto& p : m.problems) o << "  - " << p << "\n";
  }
  o << "\n" << summary_line(m) << "\n";
  return o.str();
}

std::string format_matrix_markdown(const DetectionMatrix& m) {
  std::ostringstream o;
  o << "### attn-harness selftest (" << m.device << "): " << (m.passed ? "PASSED" : "FAILED") << "\n\n";
  o << m.case_names.size() << " generated cases (" << m.unit_cases << " unit-scale grad_out, "
    << m.realistic_cases << " realistic 1e-3), baseline `" << m.baseline << "`, fp64 reference.\n\n";
  o << "| variant | expected | default gate, unit | default gate, realistic | margin, unit | "
       "margin, realistic | first rule, unit | first rule, realistic | old cosine rule, any tensor | "
       "old cosine rule, out | assert_close | worst err_c/err_b | invalid rows | verdict |\n";
  o << "|---|---|---|---|---:|---:|---|---|---|---|---|---|---|---|\n";
  for (const VariantRow& r : m.rows)
    o << "| `" << r.name << "` | " << to_string(r.expect) << " | " << frac(r.default_unit) << " | "
      << frac(r.default_realistic) << " | " << (r.default_unit.of ? num(r.margin_unit) : "-") << " | "
      << (r.default_realistic.of ? num(r.margin_realistic) : "-") << " | " << frac(r.first_unit)
      << " | " << frac(r.first_realistic)
      << " | " << frac(r.old_rule) << " | " << frac(r.old_rule_out) << " | " << frac(r.assert_close) << " | "
      << (r.worst_ratio_tensor.empty() ? "-" : num(r.worst_ratio) + " (" + r.worst_ratio_tensor + ")")
      << " | " << frac(r.invalid_rows) << " | " << (r.ok ? "" : "**") << r.verdict << (r.ok ? "" : "**")
      << " |\n";
  o << "\n" << legend(m) << "\n\n";
  o << "<details><summary>Tensors flagged by the default gate, per case</summary>\n\n| variant |";
  for (const auto& c : m.case_names) o << " " << c << " |";
  o << "\n|---|";
  for (size_t c = 0; c < m.case_names.size(); ++c) o << "---|";
  o << "\n";
  for (const VariantRow& r : m.rows) {
    o << "| `" << r.name << "` |";
    for (const CaseVerdicts& c : r.cases)
      o << " " << (!c.ran() ? "error" : c.default_flagged() ? join(c.default_failed, ", ") : "·")
        << (c.ran() && c.invalid_rows_flagged() ? " (invalid rows)" : "") << " |";
    o << "\n";
  }
  o << "\n</details>\n\n";
  if (!m.notes.empty()) {
    o << "Notes:\n\n";
    for (const auto& n : m.notes) o << "- " << n << "\n";
    o << "\n";
  }
  if (!m.problems.empty()) {
    o << "Problems:\n\n";
    for (const auto& p : m.problems) o << "- " << p << "\n";
    o << "\n";
  }
  o << summary_line(m) << "\n";
  return o.str();
}

nlohmann::json matrix_json(const DetectionMatrix& m) {
  using nlohmann::json;
  auto number = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  auto count = [](const Count& c) { return json{{"flagged", c.flagged}, {"of", c.of}}; };
  json j;
  j["schema"] = "attn-harness.selftest/2";
  j["device"] = m.device;
  j["baseline"] = m.baseline;
  j["profiles"] = {{"default", m.default_profile}, {"first_rule", m.first_rule_profile}};
  j["budgets"] = m.budgets;
  j["cases"] = m.case_names;
  j["unit_cases"] = m.unit_cases;
  j["realistic_cases"] = m.realistic_cases;
  j["passed"] = m.passed;
  j["problems"] = m.problems;
  j["notes"] = m.notes;
  j["variants"] = json::array();
  for (const VariantRow& r : m.rows) {
    json v{{"name", r.name},
           {"expect", to_string(r.expect)},
           {"summary", r.summary},
           {"invisible_when", r.invisible_when},
           {"ok", r.ok},
           {"verdict", r.verdict},
           {"errors", r.errors},
           {"default_gate", {{"unit", count(r.default_unit)}, {"realistic", count(r.default_realistic)}}},
           {"margin", {{"unit", number(r.margin_unit)}, {"unit_where", r.margin_unit_where},
                       {"realistic", number(r.margin_realistic)}, {"realistic_where", r.margin_realistic_where}}},
           {"first_rule_gate", {{"unit", count(r.first_unit)}, {"realistic", count(r.first_realistic)}}},
           {"old_rule", count(r.old_rule)},
           {"old_rule_out", count(r.old_rule_out)},
           {"assert_close", count(r.assert_close)},
           {"invalid_rows", count(r.invalid_rows)},
           {"worst_ratio", {{"value", number(r.worst_ratio)}, {"tensor", r.worst_ratio_tensor}, {"case", r.worst_ratio_case}}}};
    v["cases"] = json::array();
    for (const CaseVerdicts& c : r.cases) {
      json cj{{"case", c.case_name}, {"realistic_grads", c.realistic_grads}};
      if (!c.ran()) {
        cj["error"] = c.error;
      } else {
        cj["default_failed"] = c.default_failed;
        cj["first_failed"] = c.first_failed;
        cj["old_rule_failed"] = c.old_rule_failed;
        cj["assert_close_failed"] = c.assert_close_failed;
        cj["assert_close_mismatches"] = c.assert_close_mismatches;
        cj["worst_ratio"] = {{"value", number(c.worst_ratio)}, {"tensor", c.worst_ratio_tensor}};
        cj["max_use"] = {{"default", number(c.max_use_default)}, {"first_rule", number(c.max_use_first)},
                         {"tensor", c.max_use_tensor}};
        cj["invalid_rows"] = {{"checked", c.invalid_rows_checked}, {"flagged_tensors", c.invalid_rows_tensors}};
      }
      v["cases"].push_back(cj);
    }
    j["variants"].push_back(v);
  }
  return j;
}

}  // namespace attn::cli::selftest

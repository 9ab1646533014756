#include "harness/selftest/detection_matrix.hpp"

#include <cmath>
#include <limits>
#include <cstdio>
#include <sstream>
#include <tuple>

namespace attn::cli::selftest {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string frac(const Count& c) { return std::to_string(c.flagged) + "/" + std::to_string(c.of); }

std::string fixed2(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, x >= 1000 ? "%.2e" : "%.2f", x);
  return buf;
}

void add(Count& c, bool flagged) {
  ++c.of;
  c.flagged += flagged;
}

}  // namespace

bool CaseVerdicts::old_rule_flags_out() const {
  for (const auto& t : old_rule_failed)
    if (t == "out") return true;
  return false;
}

std::string to_string(Expect e) {
  switch (e) {
    case Expect::pass: return "pass";
    case Expect::gate: return "gate";
    case Expect::invalid_rows: return "invalid-rows";
  }
  return "?";
}

CaseVerdicts verdicts_of(const std::string& case_name, bool realistic_grads,
                         const report::CaseComparison& d, const report::CaseComparison& s) {
  CaseVerdicts v;
  v.case_name = case_name;
  v.realistic_grads = realistic_grads;
  v.default_failed = d.failed_tensors();
  v.first_failed = s.failed_tensors();
  for (const report::TensorComparison& t : d.tensors) {
    if (!t.candidate.old_rule_pass) v.old_rule_failed.push_back(t.name);
    if (t.candidate.assert_close_mismatches > 0) v.assert_close_failed.push_back(t.name);
    v.assert_close_mismatches += t.candidate.assert_close_mismatches;
    if (t.baseline) {
      const double ec = t.candidate.max_abs, eb = t.baseline->max_abs;
      const double r = eb > 0 ? ec / eb : ec > 0 ? std::numeric_limits<double>::infinity() : 0.0;
      if (!(r <= v.worst_ratio)) {  // also takes NaN / inf
        v.worst_ratio = r;
        v.worst_ratio_tensor = t.name;
      }
    }
    if (t.gate.judged && !(t.gate.use() <= v.max_use_default)) {
      v.max_use_default = t.gate.use();
      v.max_use_tensor = t.name;
    }
  }
  for (const report::TensorComparison& t : s.tensors)
    if (t.gate.judged && !(t.gate.use() <= v.max_use_first)) v.max_use_first = t.gate.use();
  v.invalid_rows_checked = d.invalid_rows.checked;
  if (d.invalid_rows.checked)
    for (const report::InvalidRowsTensor& t : d.invalid_rows.tensors)
      if (t.violations > 0) v.invalid_rows_tensors.push_back(t.name);
  return v;
}

void summarize(DetectionMatrix& m) {
  m.passed = true;
  m.problems.clear();
  m.notes.clear();
  m.unit_cases = m.realistic_cases = 0;
  m.case_names.clear();
  if (!m.rows.empty())
    for (const CaseVerdicts& c : m.rows.front().cases) {
      m.case_names.push_back(c.case_name);
      (c.realistic_grads ? m.realistic_cases : m.unit_cases)++;
    }

  int real_rows = 0, mutant_rows = 0;
  for (size_t i = 0; i < m.rows.size(); ++i) {
    VariantRow& r = m.rows[i];
    r.default_unit = r.default_realistic = r.first_unit = r.first_realistic = r.old_rule =
        r.old_rule_out = r.assert_close = r.invalid_rows = Count{};
    r.errors = 0;
    r.worst_ratio = 0;
    r.worst_ratio_tensor = r.worst_ratio_case = "";
    r.margin_unit = r.margin_realistic = 0;
    r.margin_unit_where = r.margin_realistic_where = "";
    std::vector<std::string> errors, default_flagged_cases;
    for (const CaseVerdicts& c : r.cases) {
      if (!c.ran()) {
        ++r.errors;
        errors.push_back(c.case_name + ": " + c.error);
        continue;
      }
      add(c.realistic_grads ? r.default_realistic : r.default_unit, c.default_flagged());
      add(c.realistic_grads ? r.first_realistic : r.first_unit, c.first_flagged());
      add(r.old_rule, c.old_rule_flagged());
      add(r.old_rule_out, c.old_rule_flags_out());
      add(r.assert_close, c.assert_close_flagged());
      if (c.invalid_rows_checked) add(r.invalid_rows, c.invalid_rows_flagged());
      if (c.default_flagged())
        default_flagged_cases.push_back(c.case_name + " (" + join(c.default_failed) + ")");
      if (!(c.worst_ratio <= r.worst_ratio)) {
        r.worst_ratio = c.worst_ratio;
        r.worst_ratio_tensor = c.worst_ratio_tensor;
        r.worst_ratio_case = c.case_name;
      }
      double& margin = c.realistic_grads ? r.margin_realistic : r.margin_unit;
      std::string& where = c.realistic_grads ? r.margin_realistic_where : r.margin_unit_where;
      if (!(c.max_use_default <= margin)) {
        margin = c.max_use_default;
        where = c.case_name + ":" + c.max_use_tensor;
      }
    }
    const int default_flags = r.default_unit.flagged + r.default_realistic.flagged;

    switch (r.expect) {
      case Expect::pass: {
        ++real_rows;
        if (i != 0) {
          r.ok = false;
          r.verdict = "misplaced";
          m.problems.push_back(r.name + ": the real path must be the first row");
          break;
        }
        std::vector<std::string> why;
        if (r.errors) why.push_back("did not run on " + std::to_string(r.errors) + " case(s): " + join(errors));
        if (default_flags)
          why.push_back("the default gate flags it on " + std::to_string(default_flags) + " case(s): " +
                        join(default_flagged_cases));
        if (r.invalid_rows.flagged)
          why.push_back("its invalid-row contract is broken on " + std::to_string(r.invalid_rows.flagged) +
                        " case(s)");
        if (r.cases.empty()) why.push_back("no cases ran");
        r.ok = why.empty();
        r.verdict = r.ok ? "passes" : "FALSE ALARM / BROKEN";
        for (const auto& w : why) m.problems.push_back(r.name + " (the real path): " + w);
        break;
      }
      case Expect::gate:
        ++mutant_rows;
        r.ok = default_flags > 0;
        r.verdict = r.ok ? "caught" : "MISSED";
        if (!r.ok)
          m.problems.push_back(r.name + ": the default gate flags it on no case (" +
                               std::to_string(r.default_unit.of + r.default_realistic.of) +
                               " ran" + (r.errors ? ", " + std::to_string(r.errors) + " errors" : "") +
                               ")");
        break;
      case Expect::invalid_rows:
        ++mutant_rows;
        r.ok = r.invalid_rows.flagged > 0 && default_flags == 0;
        r.verdict = r.ok ? "caught (invalid rows)" : "MISSED";
        if (r.invalid_rows.flagged == 0)
          m.problems.push_back(r.name + ": expected to be seen by the invalid-row check only, "
                               "which flags it on no case");
        if (default_flags > 0) {
          r.verdict = "WRONG DECLARATION";
          m.problems.push_back(r.name + ": declared invisible to the gate, yet the default gate "
                               "flags it on " + std::to_string(default_flags) +
                               " case(s); fix its declaration in kernels/mutants.cpp");
        }
        break;
    }
    if (!r.ok) m.passed = false;
  }
  if (real_rows != 1) {
    m.passed = false;
    m.problems.push_back("the matrix needs exactly one real path (found " + std::to_string(real_rows) + ")");
  }
  if (mutant_rows == 0) {
    m.passed = false;
    m.problems.push_back("no mutants: nothing shows that the gate catches a defect");
  }

  // Notes: the margins against their targets, what each rule sees.
  for (const VariantRow& r : m.rows) {
    if (r.expect == Expect::pass) {
      const double use = std::max(r.margin_unit, r.margin_realistic);
      m.notes.push_back(r.name + " uses at most " + fixed2(use) + " of its thresholds (" +
                        (r.margin_unit >= r.margin_realistic ? r.margin_unit_where : r.margin_realistic_where) +
                        (use <= 0.5 ? "; the target is <= 0.5)" : "; ABOVE the target 0.5)"));
      if (r.first_unit.flagged + r.first_realistic.flagged)
        m.notes.push_back(r.name + " fails the first rule on " +
                          std::to_string(r.first_unit.flagged + r.first_realistic.flagged) +
                          " case(s)");
      if (r.old_rule.flagged)
        m.notes.push_back("the old cosine/norm rule flags the real path on " + frac(r.old_rule) + " cases");
      if (r.assert_close.flagged)
        m.notes.push_back("assert_close (bf16 defaults) flags the real path on " + frac(r.assert_close) +
                          " cases: mismatch counts are a view, not a usable gate");
      continue;
    }
    if (r.expect == Expect::invalid_rows)
      m.notes.push_back(r.name + " changes nothing the gate judges (" + r.summary +
                        "): only the invalid-row check can see it, so the self-test requires "
                        "that check to flag it instead of the gate");
    if (r.expect == Expect::gate) {
      for (const auto& [scale, margin, where, count] :
           {std::tuple{"unit-scale", r.margin_unit, r.margin_unit_where, r.default_unit},
            std::tuple{"realistic-scale", r.margin_realistic, r.margin_realistic_where, r.default_realistic}}) {
        if (count.of == 0) continue;
        if (margin < 5)
          m.notes.push_back(r.name + ": margin " + fixed2(margin) + " at " + scale + " grad_out (" +
                            where + "), below the target 5" +
                            (margin <= 1 ? " (not caught at this scale)" : ""));
      }
      if (r.first_unit.flagged + r.first_realistic.flagged == 0 && r.default_flagged_any())
        m.notes.push_back(r.name + ": the first rule (" + m.first_rule_profile +
                          ") never flags it; the default gate does");
    }
    if (r.expect == Expect::gate && r.invalid_rows.flagged > 0)
      m.notes.push_back(r.name + ": the invalid-row check flags it too (" + frac(r.invalid_rows) +
                        " cases)");
    if (r.expect == Expect::gate && r.old_rule.flagged == 0)
      m.notes.push_back(r.name + ": the old cosine/norm rule never flags it");
    else if (r.expect == Expect::gate && r.old_rule_out.flagged == 0)
      m.notes.push_back(r.name + ": the old cosine/norm rule flags it only through gradients "
                        "(never on out): a forward-only comparison would miss it");
  }
}

}  // namespace attn::cli::selftest

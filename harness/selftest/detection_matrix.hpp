// The self-test's detection matrix: for each variant of the flash path (the real one first,
// then the mutants) and each fixture case, which rule flags it, and the verdict: the real path
// must pass the default gate everywhere (and keep its invalid-row contract), every mutant must
// be flagged by the check it is expected to be seen by. Pure bookkeeping, no Torch.
#pragma once

#include <string>
#include <vector>

#include "reports/accuracy/case_comparison.hpp"

namespace attn::cli::selftest {

/// One variant on one case.
struct CaseVerdicts {
  std::string case_name;
  bool realistic_grads = false;
  std::string error;  ///< non-empty: the variant did not run there (then nothing else is set)
  std::vector<std::string> default_failed;  ///< tensors failing the default (bf16) gate
  std::vector<std::string> first_failed;   ///< tensors failing the first rule (bf16-offset-floor)
  std::vector<std::string> old_rule_failed; ///< tensors failing cos >= 0.975, |norm - 1| <= 2.5 %
  std::vector<std::string> assert_close_failed;  ///< tensors with assert_close bf16 mismatches
  int64_t assert_close_mismatches = 0;      ///< summed over tensors
  double worst_ratio = 0;                   ///< max over tensors of err_c / err_b
  std::string worst_ratio_tensor;
  double max_use_default = 0, max_use_first = 0;  ///< max err_c / threshold
  std::string max_use_tensor;               ///< under the default gate
  bool invalid_rows_checked = false;        ///< the variant declares zeros on invalid rows
  std::vector<std::string> invalid_rows_tensors;  ///< tensors with non-zeros on invalid rows

  bool ran() const { return error.empty(); }
  bool default_flagged() const { return !default_failed.empty(); }
  bool first_flagged() const { return !first_failed.empty(); }
  bool old_rule_flagged() const { return !old_rule_failed.empty(); }
  /// The old rule on the forward output alone (what a forward-only test would have seen).
  bool old_rule_flags_out() const;
  bool assert_close_flagged() const { return assert_close_mismatches > 0; }
  bool invalid_rows_flagged() const { return !invalid_rows_tensors.empty(); }
};

/// Reads the verdicts of one variant on one case from its comparisons under the default and
/// the first-rule profiles (same candidate, baseline and reference).
CaseVerdicts verdicts_of(const std::string& case_name, bool realistic_grads,
                         const report::CaseComparison& under_default,
                         const report::CaseComparison& under_scaled);

/// What a variant is expected to do.
enum class Expect {
  pass,          ///< the real path: passes the default gate and its invalid-row contract
  gate,          ///< a mutant the default gate must flag on at least one case
  invalid_rows,  ///< a mutant invisible on judged elements: the invalid-row check must flag it
                 ///< on at least one case, and the default gate must flag it nowhere
};
std::string to_string(Expect e);

struct Count {
  int flagged = 0, of = 0;
};

struct VariantRow {
  std::string name;
  Expect expect = Expect::gate;
  std::string summary, invisible_when;  ///< from the mutant catalogue (empty for the real path)
  std::vector<CaseVerdicts> cases;

  // Filled by summarize(), over the cases the variant ran on.
  Count default_unit, default_realistic, first_unit, first_realistic, old_rule, old_rule_out,
      assert_close, invalid_rows;
  int errors = 0;
  double worst_ratio = 0;
  std::string worst_ratio_tensor, worst_ratio_case;
  /// Under the default gate, the largest per-case use (err_c / threshold of the worst tensor)
  /// over the unit-scale and the realistic-scale cases: a mutant's margin (caught with margin
  /// >= 5 is the target), the real path's distance from a false alarm (<= 0.5 the target).
  double margin_unit = 0, margin_realistic = 0;
  std::string margin_unit_where, margin_realistic_where;  ///< "case:tensor"
  bool ok = false;
  std::string verdict;  ///< short: "passes", "caught", "MISSED", ...
  bool default_flagged_any() const { return default_unit.flagged + default_realistic.flagged > 0; }
};

struct DetectionMatrix {
  std::string device, baseline, default_profile, first_rule_profile;
  std::string budgets;  ///< the budget file the default profile applies ("" when none applies)
  std::vector<std::string> case_names;
  int unit_cases = 0, realistic_cases = 0;
  std::vector<VariantRow> rows;  ///< the real path first
  bool passed = false;
  std::vector<std::string> problems;  ///< why it failed
  std::vector<std::string> notes;     ///< what the reader should know (blind spots, the floor)
};

/// Counts, worst ratios, per-row verdicts and the overall verdict. `m.rows` must hold the
/// variants with their cases; exactly one row (the first) may expect `pass`. Fails (passed =
/// false, a problem stated) when there is no real path or no mutant.
void summarize(DetectionMatrix& m);

}  // namespace attn::cli::selftest

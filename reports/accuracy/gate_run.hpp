// The result of `attn-harness gate`: one entry per case file, judged or stopped by an input
// error, and the exit code it implies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/accuracy/case_comparison.hpp"

namespace attn::report {

struct GateCaseResult {
  std::string case_path;
  double seconds = 0;  ///< reading, the reference and judging
  std::optional<CaseComparison> comparison;  ///< absent when `error` stopped the case
  std::string error;                         ///< the input error's message
};

struct GateRun {
  std::string candidate, baseline;  ///< baseline empty when none is used
  GateProfile profile;
  std::vector<GateCaseResult> cases;
  std::string tool_version, tool_commit;  ///< of the attn-harness that judged

  int judged_tensors() const;
  int failed_tensors() const;
  int failed_cases() const;  ///< gate violations
  int error_cases() const;   ///< input errors
  /// 0 all pass; 1 gate violations (a tensor or an enforced invalid-row contract) and no input
  /// error; 2 input errors and no violation; 3 both.
  int exit_code() const;
};

}  // namespace attn::report

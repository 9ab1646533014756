// The result of `attn-harness gate`: one entry per case file, judged or stopped by an input
// error, and the exit code it implies.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/case_comparison.hpp"

namespace attn::report {

struct GateCaseResult {
  std::string case_path;
  std::optional<CaseComparison> comparison;  ///< absent when `error` stopped the case
  std::string error;                         ///< the input error's message
};

struct GateRun {
  std::string candidate, baseline;  ///< baseline empty when none is used
  GateProfile profile;
  std::vector<GateCaseResult> cases;

  int judged_tensors() const;
  int failed_tensors() const;
  int failed_cases() const;  ///< gate violations
  int error_cases() const;   ///< input errors
  /// 2 when any case had an input error, else 1 when any tensor failed, else 0.
  int exit_code() const;
};

}  // namespace attn::report

// The CLI's exit codes (docs/cli.md "Exit codes").
#pragma once

namespace attn::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitGateViolation = 1,  ///< a judged backend broke the gate rule
  kExitInputError = 2,     ///< usage error, bad or missing input, unsupported shape
  /// gate over several cases: some broke the rule and others could not be judged (input
  /// errors); report::GateRun::exit_code computes it.
  kExitGateViolationAndInputError = 3,
};

}  // namespace attn::cli

// The CLI's exit codes (README.md "Exit codes").
#pragma once

namespace attn::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitGateViolation = 1,  ///< a judged backend broke the gate rule
  kExitInputError = 2,     ///< usage error, bad or missing input, unsupported shape
};

}  // namespace attn::cli

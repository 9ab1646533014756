// Running the configured Python (with torch) as a child process: the Python-function backends
// (python_function.hpp) and the ring backends (ring/ring_run.hpp) both go through here.
#pragma once

#include <string>
#include <vector>

namespace attn::cli {

/// The interpreter that runs Python code: $ATTN_PYTHON, else the one the build was configured
/// with.
std::string python_interpreter();

/// Runs python_interpreter() with `args` (everything after the interpreter's name), with this
/// source tree's harness/python first on PYTHONPATH; stdin, stdout and stderr are inherited.
/// Returns the exit code when it is 0 or 2 (the Python side's "recorded" and "input error",
/// whose message it printed itself). Throws InputError when the interpreter cannot be started,
/// is killed by a signal, or exits with any other code; `what` names the job in those
/// messages ("the Python running flex_ttt").
int run_python(const std::vector<std::string>& args, const std::string& what);

}  // namespace attn::cli

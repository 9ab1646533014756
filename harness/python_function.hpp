// Python-function backends: `--backend py:PATH.py:FUNC` runs a user's attention function over a
// case in the configured Python (with torch), through attn_harness.function_backend
// (harness/python), which records its outputs like any producer. `--backend flex` is one such
// function shipped with the project (kernels/flex/flex_function.py:flex_ttt).
#pragma once

#include <optional>
#include <string>

#include "harness/python_process.hpp"

namespace attn::cli {

struct PythonFunction {
  std::string path;      ///< the Python file
  std::string function;  ///< the function's name in it
  std::string producer;  ///< the default producer name (the function's name; "flex" for flex)
};

/// The function a backend name denotes: "py:PATH:FUNC" (the last ':' separates FUNC) or
/// "flex"; nullopt for any other name. Throws InputError on a malformed "py:" name.
std::optional<PythonFunction> python_function_backend(const std::string& name);

/// Runs `f` over the case in the Python interpreter, recording it as `producer` (empty: its
/// default). stdout and stderr pass through. Returns 0 when recorded, 2 (input error) when the
/// function failed or its outputs were rejected (the message is on stderr); throws InputError
/// when the interpreter cannot be started or dies.
int run_python_function(const std::string& case_path, const PythonFunction& f,
                        const std::string& device, const std::string& producer);

}  // namespace attn::cli

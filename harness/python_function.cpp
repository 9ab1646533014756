#include "harness/python_function.hpp"

#include <filesystem>

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/python_process.hpp"

namespace attn::cli {

std::optional<PythonFunction> python_function_backend(const std::string& name) {
  if (name == "flex")
    return PythonFunction{(std::filesystem::path(kSourceDir) / "kernels" / "flex" / "flex_function.py").string(),
                          "flex_ttt", "flex"};
  if (name.rfind("py:", 0) != 0) return std::nullopt;
  const std::string rest = name.substr(3);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size())
    throw data::InputError("--backend " + name + ": expected py:PATH.py:FUNC (a Python file and "
                           "the name of the attention function in it)");
  PythonFunction f{rest.substr(0, colon), rest.substr(colon + 1), rest.substr(colon + 1)};
  std::error_code ec;
  if (!std::filesystem::is_regular_file(f.path, ec))
    throw data::InputError("--backend " + name + ": no such Python file '" + f.path + "'");
  return f;
}

int run_python_function(const std::string& case_path, const PythonFunction& f,
                        const std::string& device, const std::string& producer) {
  return run_python({"-m", "attn_harness.function_backend", case_path, f.path, f.function,
                     "--device", device, "--as", producer.empty() ? f.producer : producer},
                    f.function);
}

}  // namespace attn::cli

#include "harness/python_function.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"

extern char** environ;

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

std::string python_interpreter() {
  const char* env = std::getenv("ATTN_PYTHON");
  return env && *env ? env : kConfiguredPython;
}

int run_python_function(const std::string& case_path, const PythonFunction& f,
                        const std::string& device, const std::string& producer) {
  const std::string python = python_interpreter();
  std::vector<std::string> args{python, "-m", "attn_harness.function_backend", case_path, f.path,
                                f.function, "--device", device, "--as",
                                producer.empty() ? f.producer : producer};
  // The package from this source tree first, then whatever PYTHONPATH already holds.
  std::string pythonpath = (std::filesystem::path(kSourceDir) / "harness" / "python").string();
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) pythonpath += std::string(":") + old;
  std::vector<std::string> env_strings{"PYTHONPATH=" + pythonpath};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "PYTHONPATH=", 11) != 0) env_strings.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, python.c_str(), nullptr, nullptr, argv.data(), envp.data());
  if (err != 0)
    throw data::InputError("cannot start the Python interpreter '" + python + "' for " + f.function +
                           ": " + std::strerror(err) + " (set ATTN_PYTHON to a Python with torch, "
                           "or reconfigure with -DATTN_PYTHON=...)");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw data::InputError(std::string("waiting for Python: ") + std::strerror(errno));
  if (WIFSIGNALED(status))
    throw data::InputError("the Python running " + f.function + " was killed by signal " +
                           std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
                           "); nothing was recorded");
  const int rc = WEXITSTATUS(status);
  if (rc == 0 || rc == 2) return rc;
  throw data::InputError("the Python running " + f.function + " (" + python + ") exited with code " +
                         std::to_string(rc) + " (is attn_harness importable and torch installed? "
                         "`" + python + " -c 'import torch, h5py'`); nothing was recorded");
}

}  // namespace attn::cli

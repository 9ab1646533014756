#include "harness/python_process.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"

extern char** environ;

namespace attn::cli {

std::string python_interpreter() {
  const char* env = std::getenv("ATTN_PYTHON");
  return env && *env ? env : kConfiguredPython;
}

int run_python(const std::vector<std::string>& args, const std::string& what) {
  const std::string python = python_interpreter();
  std::vector<std::string> argv_strings{python};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  // The package from this source tree first, then whatever PYTHONPATH already holds.
  std::string pythonpath = (std::filesystem::path(kSourceDir) / "harness" / "python").string();
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) pythonpath += std::string(":") + old;
  std::vector<std::string> env_strings{"PYTHONPATH=" + pythonpath};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "PYTHONPATH=", 11) != 0) env_strings.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, python.c_str(), nullptr, nullptr, argv.data(), envp.data());
  if (err != 0)
    throw data::InputError("cannot start the Python interpreter '" + python + "' for " + what +
                           ": " + std::strerror(err) + " (set ATTN_PYTHON to a Python with torch, "
                           "or reconfigure with -DATTN_PYTHON=...)");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw data::InputError(std::string("waiting for Python: ") + std::strerror(errno));
  if (WIFSIGNALED(status))
    throw data::InputError("the Python running " + what + " was killed by signal " +
                           std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) +
                           "); nothing was recorded");
  const int rc = WEXITSTATUS(status);
  if (rc == 0 || rc == 2) return rc;
  throw data::InputError("the Python running " + what + " (" + python + ") exited with code " +
                         std::to_string(rc) + " (is attn_harness importable and torch installed? "
                         "`" + python + " -c 'import torch, h5py'`); nothing was recorded");
}

}  // namespace attn::cli

#include "reports/performance/perf_gnuplot.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "datasets/errors.hpp"

namespace attn::report {
namespace {

bool executable(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::filesystem::path find_gnuplot() {
  if (const char* env = std::getenv("ATTN_GNUPLOT"); env && *env) {
    if (executable(env)) return env;
    throw data::InputError(std::string("ATTN_GNUPLOT=") + env + " is not an executable file");
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) {
      const std::filesystem::path p = std::filesystem::path(d.empty() ? "." : d) / "gnuplot";
      if (executable(p)) return p;
    }
  }
  throw data::InputError(
      "gnuplot not found on PATH; the report draws its charts with it. Install it "
      "(Debian/Ubuntu: apt-get install gnuplot-nox), point ATTN_GNUPLOT at it, or pass --no-charts");
}

std::string run_gnuplot(const std::filesystem::path& gnuplot, const std::filesystem::path& dir,
                 const std::string& script_file, const std::string& prelude) {
  const std::filesystem::path err_file = dir / (script_file + ".stderr");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("cannot start gnuplot: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    const int fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDERR_FILENO);
      ::dup2(fd, STDOUT_FILENO);
      ::close(fd);
    }
    const int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
    std::vector<char*> argv{const_cast<char*>(gnuplot.c_str()), const_cast<char*>("-e"),
                            const_cast<char*>(prelude.c_str()), const_cast<char*>(script_file.c_str()), nullptr};
    ::execv(gnuplot.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waiting for gnuplot: ") + std::strerror(errno));
  std::string messages;
  {
    std::ifstream in(err_file);
    std::stringstream ss;
    ss << in.rdbuf();
    messages = ss.str();
  }
  std::error_code ignored;
  std::filesystem::remove(err_file, ignored);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    throw std::runtime_error("gnuplot failed on " + (dir / script_file).string() + " (exit " +
                             std::to_string(code) + ")" + (messages.empty() ? "" : ":\n" + messages));
  }
  return messages;
}

}  // namespace attn::report

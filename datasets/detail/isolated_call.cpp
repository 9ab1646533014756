#include "datasets/detail/isolated_call.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "datasets/errors.hpp"
#include "datasets/limits.hpp"

namespace attn::data::detail {
namespace {

bool g_in_child = false;

std::mutex& call_mutex() {
  static std::mutex m;
  return m;
}

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= size_t(w);
  }
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

[[noreturn]] void child_main(int fd, const std::function<std::string()>& work) {
  g_in_child = true;
  // The parent's handlers remove the parent's temporary files; they are not the child's.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_DFL);
  const rlimit no_core{0, 0};  // a crash on a damaged file is expected here: no core file
  ::setrlimit(RLIMIT_CORE, &no_core);
  char status = 'O';
  std::string reply;
  try {
    reply = work();
  } catch (const InputError& e) {
    status = 'E';
    reply = e.what();
  } catch (const std::exception& e) {
    status = 'X';
    reply = e.what();
  } catch (...) {
    status = 'X';
    reply = "unknown exception";
  }
  write_all(fd, &status, 1);
  write_all(fd, reply.data(), reply.size());
  ::close(fd);
  ::_exit(0);  // no atexit handlers, no stdio flush: the parent owns those
}

}  // namespace

std::shared_ptr<void> shared_memory(size_t bytes) {
  const size_t len = std::max<size_t>(bytes, 1);
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw InputError("cannot map " + byte_size_text(bytes) + " of shared memory for reading: " +
                     std::strerror(errno));
  return std::shared_ptr<void>(p, [len](void* q) { ::munmap(q, len); });
}

double read_timeout(double default_s) {
  if (const char* env = std::getenv("ATTN_READ_TIMEOUT_S")) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && v > 0) return v;
  }
  return default_s;
}

bool in_isolated_child() { return g_in_child; }

std::string isolated_call(const std::string& what, double timeout_s,
                          const std::function<std::string()>& work) {
  std::lock_guard<std::mutex> lock(call_mutex());
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw InputError(what + ": cannot create a pipe for the reading process: " +
                     std::strerror(errno));
  std::fflush(nullptr);  // nothing buffered is duplicated into the child
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw InputError(what + ": cannot start the reading process: " + std::strerror(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], work);
  }
  ::close(fds[1]);

  std::string received;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  char buf[65536];
  for (;;) {
    const double left =
        std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    const int ms = int(std::min(left * 1000.0 + 1.0, 60000.0));
    const int rc = ::poll(&pfd, 1, ms);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (rc == 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;  // the child closed its end: done (or dead)
    received.append(buf, size_t(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    throw InputError(what + ": no answer within " + seconds_text(timeout_s) +
                     " s, so the reading process was stopped (a damaged file can make the HDF5 "
                     "library loop; ATTN_READ_TIMEOUT_S sets this limit)");
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
      throw InputError(what + ": interrupted (" + std::string(strsignal(sig)) + ")");
    throw InputError(what + ": the HDF5 library crashed reading it (" +
                     std::string(strsignal(sig)) + "): the file is damaged");
  }
  if (received.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw InputError(what + ": the reading process ended without an answer (exit status " +
                     std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
  const char code = received[0];
  std::string text = received.substr(1);
  if (code == 'E') throw InputError(text);
  if (code == 'X') throw InputError(what + ": " + text);
  return text;
}

}  // namespace attn::data::detail

#include "datasets/atomic_output.hpp"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "datasets/detail/isolated_call.hpp"
#include "datasets/errors.hpp"

namespace attn::data {
namespace fs = std::filesystem;
namespace {

// ---- temporary files to remove on a fatal signal ---------------------------------------------
// A fixed table, so the handler touches no heap and calls only unlink, signal and raise
// (async-signal-safe). state: 0 free, 1 being filled, 2 holds a path to remove.
constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
struct Slot {
  std::atomic<int> state{0};
  char path[kPathMax];
};
Slot g_slots[kSlots];
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

extern "C" void remove_temporaries_and_reraise(int sig) {
  if (!detail::in_isolated_child())
    for (Slot& s : g_slots)
      if (s.state.load() == 2) ::unlink(s.path);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_handlers_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : kSignals) {
      struct sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0) continue;
      if (old.sa_handler != SIG_DFL) continue;  // ignored (nohup) or someone else's: leave it
      struct sigaction sa {};
      sa.sa_handler = remove_temporaries_and_reraise;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, nullptr);
    }
  });
}

int register_temporary(const std::string& path) {
  install_handlers_once();
  if (path.size() + 1 > kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(2);
      return i;
    }
  }
  return -1;  // more than kSlots writes at once: this one is not covered by the handler
}

void unregister_temporary(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0);
}

// ---- names ------------------------------------------------------------------------------------

std::atomic<unsigned> g_counter{0};

/// ".<name>.tmp.<pid>.<n>"
std::string temp_name(const std::string& name) {
  return "." + name + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(g_counter++);
}

/// The pid in a temporary file's name, or -1 when `name` is not one of ours.
long temp_owner(const std::string& name) {
  if (name.size() < 2 || name[0] != '.') return -1;
  const size_t tmp = name.rfind(".tmp.");
  if (tmp == std::string::npos || tmp == 0) return -1;
  const size_t dot = name.find('.', tmp + 5);
  if (dot == std::string::npos) return -1;
  const std::string pid = name.substr(tmp + 5, dot - tmp - 5), n = name.substr(dot + 1);
  auto digits = [](const std::string& s) {
    return !s.empty() && s.size() < 12 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (!digits(pid) || !digits(n)) return -1;
  return std::stol(pid);
}

/// Removes temporary files in `folder` left by writers that were killed (their process is gone).
void remove_orphans(const fs::path& folder) {
  DIR* d = ::opendir(folder.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const long pid = temp_owner(name);
    if (pid <= 0 || pid == long(::getpid())) continue;
    if (::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    ::unlinkat(::dirfd(d), name.c_str(), 0);
  }
  ::closedir(d);
}

void fsync_path(const fs::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

fs::path folder_of(const fs::path& target) {
  return target.has_parent_path() ? target.parent_path() : fs::path(".");
}

}  // namespace

AtomicOutput::AtomicOutput(fs::path target) : target_(std::move(target)) {
  const fs::path folder = folder_of(target_);
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw InputError("cannot write " + target_.string() + ": folder " + folder.string() +
                     " does not exist");
  remove_orphans(folder);
  temp_ = folder / temp_name(target_.filename().string());
  slot_ = register_temporary(temp_.string());
  const int fd = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    unregister_temporary(slot_);
    throw InputError("cannot write " + target_.string() + ": cannot create a file in " +
                     folder.string() + ": " + std::strerror(err));
  }
  ::close(fd);
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) ::unlink(temp_.c_str());
  unregister_temporary(slot_);
}

void AtomicOutput::commit() {
  fsync_path(temp_, O_RDONLY);
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    const int err = errno;
    throw InputError("cannot write " + target_.string() + ": cannot rename " + temp_.string() +
                     " over it: " + std::strerror(err));
  }
  committed_ = true;
  fsync_path(folder_of(target_), O_RDONLY | O_DIRECTORY);
}

void write_file_atomically(const fs::path& path, const std::string& content) {
  AtomicOutput out(path);
  const int fd = ::open(out.temp_path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0)
    throw InputError("cannot write " + path.string() + ": " + std::strerror(errno));
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      throw InputError("cannot write " + path.string() + ": " + std::strerror(err));
    }
    p += w;
    left -= size_t(w);
  }
  if (::close(fd) != 0)
    throw InputError("cannot write " + path.string() + ": " + std::strerror(errno));
  out.commit();
}

std::string folder_write_blocker(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return folder.string() + " does not exist";
  const fs::path probe = folder / temp_name("write-probe");
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot write in " + folder.string() + ": " + std::strerror(errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return "";
}

}  // namespace attn::data

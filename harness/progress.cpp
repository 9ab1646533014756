#include "harness/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace attn::cli {

Progress::Progress(std::string label, bool quiet)
    : label_(std::move(label)),
      quiet_(quiet),
      tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t done, int64_t total) {
  if (quiet_ || total <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(now - start_).count();
  const int pct = int(100 * done / total);
  if (tty_) {
    if (done != total && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r%s: %lld/%lld (%d%%) %.1f s", label_.c_str(), (long long)done,
                 (long long)total, pct, secs);
    std::fflush(stderr);
  } else if (pct / 10 > last_decile_ || now - last_draw_ >= std::chrono::seconds(30)) {
    last_decile_ = pct / 10;
    last_draw_ = now;
    std::fprintf(stderr, "%s: %lld/%lld (%d%%) %.1f s\n", label_.c_str(), (long long)done,
                 (long long)total, pct, secs);
  }
}

void Progress::finish(const std::string& note) {
  if (quiet_) return;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%s%s: done in %.2f s%s%s\n", tty_ ? "\r\033[K" : "", label_.c_str(), secs,
               note.empty() ? "" : ", ", note.c_str());
}

}  // namespace attn::cli

// Progress lines on stderr for long work: redrawn in place on a terminal; otherwise one line
// per 10 % and at least one every 30 s (logs stay short, and a slow run still shows it moves).
// Silent when quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace attn::cli {

class Progress {
 public:
  Progress(std::string label, bool quiet);
  /// done of total units; cheap to call often.
  void update(int64_t done, int64_t total);
  /// Final line with the elapsed time.
  void finish(const std::string& note = "");

 private:
  std::string label_;
  bool quiet_, tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace attn::cli

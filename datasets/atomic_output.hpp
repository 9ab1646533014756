// Files that appear complete or not at all. The content goes to a temporary file in the
// target's folder, ".<name>.tmp.<pid>.<n>", which is flushed to disk and renamed over the
// target (rename(2) replaces atomically on POSIX). A failure, an exception, or SIGINT, SIGTERM,
// SIGHUP or SIGQUIT removes the temporary file; only SIGKILL or a power cut can leave one, and
// the next write into the same folder removes those whose process is gone.
#pragma once

#include <filesystem>
#include <string>

namespace attn::data {

class AtomicOutput {
 public:
  /// Creates the temporary file (exclusively). Throws InputError naming `target` when it
  /// cannot: the folder is missing, or this process cannot create files there (the system's
  /// reason, e.g. "Permission denied", "Read-only file system").
  explicit AtomicOutput(std::filesystem::path target);
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& target() const { return target_; }

  /// Flushes the temporary file to disk, renames it over the target and flushes the folder.
  /// Throws InputError naming the target when one of these fails (the temporary file is then
  /// removed).
  void commit();

 private:
  std::filesystem::path target_, temp_;
  int slot_ = -1;
  bool committed_ = false;
};

/// Writes `content` as `path` through an AtomicOutput.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

/// "" when this process can create files in `folder` (found by creating and removing a probe
/// file, so permissions, ACLs, read-only mounts and root's privileges all count); otherwise
/// the reason: "cannot write in /x: Permission denied", "/x does not exist".
std::string folder_write_blocker(const std::filesystem::path& folder);

}  // namespace attn::data

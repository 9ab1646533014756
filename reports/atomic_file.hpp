// Whole-file writes that never leave a half-written file behind.
#pragma once

#include <filesystem>
#include <string>

namespace attn::report {

/// Writes `content` to "<path>.tmp<pid>" in the same folder, flushes, and renames it over
/// `path`. Throws attn::data::InputError naming the path when the folder is not writable.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

}  // namespace attn::report

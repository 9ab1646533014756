// Finding and running gnuplot, the one external program the performance report needs.
#pragma once

#include <filesystem>
#include <string>

namespace attn::report {

/// The gnuplot executable: $ATTN_GNUPLOT when set, else "gnuplot" searched on $PATH. Throws
/// data::InputError saying how to install it when there is none.
std::filesystem::path find_gnuplot();

/// Runs `gnuplot -e PRELUDE SCRIPT` with `dir` as working directory (the script's data files
/// are relative to it). Returns what gnuplot printed (warnings); throws std::runtime_error
/// with that text when it fails.
std::string run_gnuplot(const std::filesystem::path& gnuplot, const std::filesystem::path& dir,
                 const std::string& script_file, const std::string& prelude);

}  // namespace attn::report

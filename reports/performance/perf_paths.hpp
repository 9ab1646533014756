// Input paths as the report shows them: never absolute (a page copied to another machine or
// committed to the repository must not carry the paths of the machine that made it).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "reports/performance/perf_results.hpp"

namespace attn::report {

/// How `file` is named in a report written to `out_dir`, with `cwd` the current directory:
///  1. relative to `out_dir` when that climbs at most two folders and not up to the root
///     ("attn_bench.json", "../2026-11-30/attn_bench.json"; never "../../work/x/a.json" for
///     an output folder /tmp/report);
///  2. else relative to `cwd` when the file is inside it and `cwd` is not the root
///     ("nightly/x/attn_bench.json");
///  3. else the file name alone.
/// Relative inputs are taken relative to `cwd`; symbolic links are not resolved.
std::string display_path(const std::filesystem::path& file, const std::filesystem::path& out_dir,
                         const std::filesystem::path& cwd);

/// Renames the sources of `run` (PerfSource::path, PerfResult::source and every mention in
/// the warnings) by `names` (as given -> as shown). Names not in the map are left as they are.
void relabel_sources(PerfRun& run, const std::map<std::string, std::string>& names);

}  // namespace attn::report

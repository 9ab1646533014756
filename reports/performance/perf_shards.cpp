#include "reports/performance/perf_shards.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <tuple>

namespace attn::report {
namespace {

bool parse_shard(const std::string& text, std::int64_t& i, std::int64_t& n) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size() || slash > 9 ||
      text.size() - slash - 1 > 9)
    return false;
  for (std::size_t k = 0; k < text.size(); ++k)
    if (k != slash && (text[k] < '0' || text[k] > '9')) return false;
  i = std::stoll(text.substr(0, slash));
  n = std::stoll(text.substr(slash + 1));
  return i >= 1 && n >= 1 && i <= n;
}

// "attn-bench" for "/tmp/b/kernels/bench/attn-bench", "flex_adapter.py" for
// "kernels/flex/flex_adapter.py bench".
std::string program_of(const std::string& executable) {
  std::string first = executable.substr(0, executable.find(' '));
  const auto slash = first.find_last_of('/');
  if (slash != std::string::npos) first = first.substr(slash + 1);
  return first.empty() ? "(unknown program)" : first;
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& x : items) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<std::string> shard_notes(const std::vector<PerfSource>& sources) {
  std::vector<std::string> notes;
  // (program, n) -> shard index -> files
  std::map<std::pair<std::string, std::int64_t>, std::map<std::int64_t, std::vector<std::string>>> groups;
  std::map<std::string, int> commits;
  for (const PerfSource& s : sources) {
    if (s.shard.empty()) continue;
    std::int64_t i = 0, n = 0;
    if (!parse_shard(s.shard, i, n)) {
      notes.push_back(s.path + ": context shard \"" + s.shard + "\" is not i/n with 1 <= i <= n; not checked");
      continue;
    }
    groups[{program_of(s.executable), n}][i].push_back(s.path);
    ++commits[s.commit.empty() ? "(none)" : s.commit];
  }
  for (const auto& [group, shards] : groups) {
    const auto& [program, n] = group;
    std::vector<std::string> missing;
    for (std::int64_t i = 1; i <= n; ++i)
      if (!shards.count(i)) missing.push_back(std::to_string(i) + "/" + std::to_string(n));
    if (!missing.empty())
      notes.push_back(program + ": " + std::to_string(missing.size()) + " of " + std::to_string(n) +
                      " shards missing (" + join(missing) + "): their benchmarks are not in this report");
    for (const auto& [i, files] : shards)
      if (files.size() > 1)
        notes.push_back(program + ": shard " + std::to_string(i) + "/" + std::to_string(n) + " is in " +
                        std::to_string(files.size()) + " files (" + join(files) +
                        "): the later file's benchmarks replace the earlier's");
  }
  if (commits.size() > 1) {
    std::vector<std::string> parts;
    for (const auto& [commit, count] : commits)
      parts.push_back(commit + ": " + std::to_string(count) + (count == 1 ? " file" : " files"));
    notes.push_back("the shards come from " + std::to_string(commits.size()) + " commits (" + join(parts) +
                    "); one night's shards should come from one build");
  }
  return notes;
}

}  // namespace attn::report

#include "reports/performance/perf_paths.hpp"

#include <functional>

namespace attn::report {
namespace {

namespace fs = std::filesystem;

fs::path absolute_normal(const fs::path& p, const fs::path& cwd) {
  return (p.is_absolute() ? p : cwd / p).lexically_normal();
}

int leading_parents(const fs::path& rel) {
  int n = 0;
  for (const auto& part : rel) {
    if (part != "..") break;
    ++n;
  }
  return n;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty() || from == to) return;
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
}

// Folders below the root: 2 for "/tmp/report".
int depth(const fs::path& absolute) {
  int n = 0;
  for (const auto& part : absolute.relative_path())
    if (!part.empty()) ++n;
  return n;
}

}  // namespace

std::string display_path(const fs::path& file, const fs::path& out_dir, const fs::path& cwd) {
  const fs::path f = absolute_normal(file, cwd);
  const fs::path out = absolute_normal(out_dir, cwd);
  const fs::path rel_out = f.lexically_relative(out);
  const int up = rel_out.empty() ? 0 : leading_parents(rel_out);
  // Climbing to the root would spell the absolute path out after the "..".
  if (!rel_out.empty() && up <= 2 && up < depth(out)) return rel_out.generic_string();
  const fs::path rel_cwd = f.lexically_relative(cwd.lexically_normal());
  if (!rel_cwd.empty() && leading_parents(rel_cwd) == 0 && depth(cwd.lexically_normal()) > 0)
    return rel_cwd.generic_string();
  return f.filename().generic_string();
}

void relabel_sources(PerfRun& run, const std::map<std::string, std::string>& names) {
  auto rename = [&](std::string& s) {
    if (const auto it = names.find(s); it != names.end()) s = it->second;
  };
  for (auto& s : run.sources) rename(s.path);
  for (auto& [k, r] : run.results) rename(r.source);
  // Longest first, so that "/a/b.json" is replaced before a shorter path it contains.
  std::multimap<std::size_t, const std::pair<const std::string, std::string>*, std::greater<>> by_length;
  for (const auto& entry : names) by_length.emplace(entry.first.size(), &entry);
  for (auto& w : run.warnings)
    for (const auto& [len, entry] : by_length) replace_all(w, entry->first, entry->second);
}

}  // namespace attn::report

#include "reports/performance/perf_failures.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "reports/performance/perf_palette.hpp"

namespace attn::report {
namespace {

std::string workload_label(const std::string& w) { return w == "train_step" ? "train step" : w; }

std::string t_list(const std::vector<std::int64_t>& Ts) {
  std::string s;
  for (std::int64_t T : Ts) s += (s.empty() ? "" : "/") + std::to_string(T);
  return s;
}

// Ranks in report order, unknown backends after the known ones.
int backend_order(const std::string& b) {
  const auto& k = known_backends();
  const auto it = std::find(k.begin(), k.end(), b);
  return int(it - k.begin());
}

// The failure message that says why: the first one not saying it was skipped because of an
// earlier failure, else the first one.
std::string cause(const std::vector<const PerfResult*>& failed) {
  for (const PerfResult* r : failed)
    if (r->message.find("skipped") == std::string::npos) return r->message;
  return failed.empty() ? "" : failed.front()->message;
}

}  // namespace

std::string failed_L_text(const PerfRun& run, const std::string& workload, const std::string& backend,
                          const std::string& preset, std::int64_t T, RunStatus status) {
  std::vector<std::int64_t> measured, failed;
  for (const auto& [k, r] : run.results) {
    if (!k.structured() || k.workload != workload || k.backend != backend || k.preset != preset || k.T != T) continue;
    measured.push_back(k.L);
    if (r.status == status && status != RunStatus::ok) failed.push_back(k.L);
  }
  if (failed.empty()) return "";
  std::sort(measured.begin(), measured.end());
  std::sort(failed.begin(), failed.end());
  if (failed.size() == measured.size()) return "every L";
  const auto from = std::find(measured.begin(), measured.end(), failed.front());
  if (std::equal(from, measured.end(), failed.begin(), failed.end())) return "L ≥ " + short_L(failed.front());
  std::string s = "L = ";
  for (std::size_t i = 0; i < failed.size(); ++i) s += (i ? ", " : "") + short_L(failed[i]);
  return s;
}

std::vector<FailureGroup> group_failures(const PerfRun& run) {
  // Series: (workload, backend, preset, T, status) -> failed results, by L.
  using Series = std::tuple<std::string, std::string, std::string, std::int64_t, RunStatus>;
  std::map<Series, std::vector<const PerfResult*>> series;
  std::vector<FailureGroup> out;
  for (const auto& [k, r] : run.results) {
    if (r.ok()) continue;
    if (!k.structured()) {
      FailureGroup g;
      g.workload = k.workload;
      g.status = r.status;
      g.benchmarks = 1;
      g.message = r.message;
      out.push_back(g);
      continue;
    }
    series[{k.workload, k.backend, k.preset, k.T, r.status}].push_back(&r);
  }
  // Group: (backend, status, workload, at) -> preset -> T set, plus counts and causes.
  struct Acc {
    std::map<std::string, std::set<std::int64_t>> Ts;
    int benchmarks = 0;
    std::int64_t first_L = 0;
    std::string message;
  };
  using GroupKey = std::tuple<std::string, RunStatus, std::string, std::string>;
  std::map<GroupKey, Acc> groups;
  for (auto& [s, failed] : series) {
    const auto& [workload, backend, preset, T, status] = s;
    std::sort(failed.begin(), failed.end(), [](auto* a, auto* b) { return a->key.L < b->key.L; });
    Acc& a = groups[{backend, status, workload, failed_L_text(run, workload, backend, preset, T, status)}];
    a.Ts[preset].insert(T);
    a.benchmarks += int(failed.size());
    const std::int64_t first = failed.front()->key.L;
    if (a.message.empty() || first < a.first_L) {
      a.first_L = first;
      a.message = cause(failed);
    }
  }
  std::vector<FailureGroup> structured;
  for (const auto& [gk, a] : groups) {
    FailureGroup g;
    std::tie(g.backend, g.status, g.workload, g.at) = gk;
    g.first_L = a.first_L;
    g.benchmarks = a.benchmarks;
    g.message = a.message;
    // Presets in run order; those with the same T set named together.
    std::vector<std::pair<std::vector<std::int64_t>, std::string>> by_T;
    for (const std::string& p : run.presets) {
      const auto it = a.Ts.find(p);
      if (it == a.Ts.end()) continue;
      const std::vector<std::int64_t> Ts(it->second.begin(), it->second.end());
      auto same = std::find_if(by_T.begin(), by_T.end(), [&](const auto& e) { return e.first == Ts; });
      if (same == by_T.end()) by_T.emplace_back(Ts, p);
      else same->second += ", " + p;
    }
    for (auto& [Ts, presets] : by_T) g.where.emplace_back(presets, Ts);
    structured.push_back(std::move(g));
  }
  std::stable_sort(structured.begin(), structured.end(), [](const FailureGroup& a, const FailureGroup& b) {
    return std::make_tuple(backend_order(a.backend), a.backend, int(a.status), a.first_L, a.workload) <
           std::make_tuple(backend_order(b.backend), b.backend, int(b.status), b.first_L, b.workload);
  });
  structured.insert(structured.end(), out.begin(), out.end());
  return structured;
}

std::string failure_group_text(const FailureGroup& g) {
  const std::string count = std::to_string(g.benchmarks) + (g.benchmarks == 1 ? " benchmark" : " benchmarks");
  if (g.backend.empty()) return g.workload + ": " + status_name(g.status) + " (" + count + ")";
  std::string where;
  for (const auto& [presets, Ts] : g.where) where += (where.empty() ? "" : "; ") + presets + " at T " + t_list(Ts);
  return g.backend + ": " + status_name(g.status) + " at " + g.at + " (" + workload_label(g.workload) + "; " +
         where + "; " + count + ")";
}

std::string short_message(const std::string& message, std::size_t max_chars, bool first_sentence) {
  std::string one;
  for (char c : message) one += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  // Characters, not bytes: a UTF-8 continuation byte is 10xxxxxx. `cut`: where the first
  // max_chars - 1 characters end.
  auto chars_and_cut = [&](const std::string& s, std::size_t& cut) {
    std::size_t chars = 0;
    cut = s.size();
    for (std::size_t i = 0; i < s.size(); ++i) {
      if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
      if (chars + 1 == max_chars) cut = i;
      ++chars;
    }
    return chars;
  };
  std::size_t cut = 0;
  if (max_chars == 0 || chars_and_cut(one, cut) <= max_chars) return one;
  // Too long: the first sentence when it says something and fits with the ellipsis.
  if (const auto dot = one.find(". "); first_sentence && dot != std::string::npos && dot >= 12) {
    const std::string first = one.substr(0, dot + 1) + " …";
    std::size_t unused;
    if (chars_and_cut(first, unused) <= max_chars) return first;
  }
  while (cut > 0 && one[cut - 1] == ' ') --cut;
  return one.substr(0, cut) + "…";
}

std::string failure_group_line(const FailureGroup& g, std::size_t cause_chars) {
  const std::string text = failure_group_text(g);
  return g.message.empty() ? text : text + ": " + short_message(g.message, cause_chars, true);
}

std::string failure_groups_legend() {
  return "One line per backend, status, workload and the L at which it failed (\"L ≥ 8K\": every measured "
         "L from 8K up), then where, how many benchmarks, and the cause: the message of the group's first "
         "failure (larger L are skipped once a smaller one ran out of memory).";
}

PerfTable failure_messages_table(const PerfRun& run, std::size_t max_chars) {
  PerfTable t;
  t.title = "Messages of the benchmarks that did not run";
  t.header = {"benchmark", "status", "message"};
  for (const auto& [k, r] : run.results)
    if (!r.ok())
      t.rows.push_back({{k.name()},
                        failed_cell(r),
                        {short_message(r.message, max_chars)}});
  return t;
}

}  // namespace attn::report

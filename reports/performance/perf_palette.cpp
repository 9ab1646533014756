#include "reports/performance/perf_palette.hpp"

#include <algorithm>

namespace attn::report {
namespace {

struct Named {
  const char* backend;
  const char* color;
};
// Categorical, none orange or purple (those are the overhead charts' schemes).
constexpr Named kBackends[] = {{"sdpa", "#d62728"},      {"flex", "#2ca02c"},      {"flash", "#1f77b4"},
                               {"flash-fa2", "#17becf"}, {"floor", "#555555"},     {"floor-fa2", "#8c564b"},
                               {"floor-cudnn", "#bcbd22"}, {"floor-sdpa", "#e377c2"}};
// For backends not in the table: chosen by a hash of the name, so stable across charts.
constexpr const char* kOthers[] = {"#000000", "#7f7f7f", "#006d2c", "#08306b", "#67000d"};
constexpr const char* kOranges[] = {"#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603", "#7f2704"};
constexpr const char* kPurples[] = {"#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#54278f", "#3f007d"};

std::string shade(std::int64_t v, const std::vector<std::int64_t>& all, const char* const* scheme, int n) {
  const auto it = std::find(all.begin(), all.end(), v);
  const int count = int(all.size());
  if (it == all.end() || count <= 1) return scheme[n - 1];
  const int i = int(it - all.begin());
  // Spread over the darker part when there are few values (the lightest shades are faint).
  const int first = count >= n ? 0 : std::max(0, n - 1 - 2 * (count - 1));
  const double step = double(n - 1 - first) / double(count - 1);
  return scheme[std::min(n - 1, first + int(i * step + 0.5))];
}

}  // namespace

const std::vector<std::string>& known_backends() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& b : kBackends) v.push_back(b.backend);
    return v;
  }();
  return names;
}

bool is_floor_backend(const std::string& b) { return b == "floor" || b.rfind("floor-", 0) == 0; }

std::string backend_color(const std::string& b) {
  for (const auto& k : kBackends)
    if (b == k.backend) return k.color;
  unsigned h = 2166136261u;  // FNV-1a
  for (char c : b) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return kOthers[h % (sizeof kOthers / sizeof *kOthers)];
}

int backend_dash(const std::string& b) { return is_floor_backend(b) ? 2 : 1; }

std::string t_color(std::int64_t T, const std::vector<std::int64_t>& all_T) { return shade(T, all_T, kOranges, 6); }
std::string l_color(std::int64_t L, const std::vector<std::int64_t>& all_L) { return shade(L, all_L, kPurples, 6); }

std::vector<std::string> backend_palette() {
  std::vector<std::string> v;
  for (const auto& b : kBackends) v.push_back(b.color);
  v.insert(v.end(), std::begin(kOthers), std::end(kOthers));
  return v;
}
std::vector<std::string> t_palette() { return {std::begin(kOranges), std::end(kOranges)}; }
std::vector<std::string> l_palette() { return {std::begin(kPurples), std::end(kPurples)}; }

}  // namespace attn::report

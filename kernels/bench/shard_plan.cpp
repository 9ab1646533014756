#include "kernels/bench/shard_plan.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace attn::bench {
namespace {

// A decimal integer >= 1 with no sign, spaces or suffix; false when it does not fit.
bool positive_int(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  out = std::stoll(s);
  return out >= 1;
}

}  // namespace

std::string Shard::text() const { return std::to_string(index) + "/" + std::to_string(count); }

bool parse_shard(const std::string& text, Shard& shard, std::string& error) {
  const auto slash = text.find('/');
  Shard s;
  if (slash == std::string::npos || !positive_int(text.substr(0, slash), s.index) ||
      !positive_int(text.substr(slash + 1), s.count)) {
    // "0/3" has the right form but a 0 index: say so rather than "not i/n".
    if (slash != std::string::npos && text.substr(0, slash) == "0" &&
        positive_int(text.substr(slash + 1), s.count)) {
      error = "expected i/n with 1 <= i <= n (shards are numbered from 1), found '" + text + "'";
      return false;
    }
    error = "expected i/n, two positive integers with i <= n such as 2/4, found '" + text + "'";
    return false;
  }
  if (s.index > s.count) {
    error = "expected i/n with 1 <= i <= n, found '" + text + "' (shard " + std::to_string(s.index) +
            " of " + std::to_string(s.count) + ")";
    return false;
  }
  shard = s;
  return true;
}

std::vector<int64_t> assign_shards(const std::vector<double>& costs, int64_t n) {
  if (n < 1) throw std::invalid_argument("assign_shards: n must be >= 1");
  std::vector<size_t> order(costs.size());
  std::iota(order.begin(), order.end(), size_t(0));
  // Decreasing cost; equal costs keep the grid's order (stable sort).
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return costs[a] > costs[b]; });
  std::vector<double> load(static_cast<size_t>(n), 0.0);
  std::vector<int64_t> shard_of(costs.size(), 0);
  for (size_t item : order) {
    // The lightest shard; min_element returns the first of equals, i.e. the lowest number.
    const auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
    shard_of[item] = lightest;
    load[size_t(lightest)] += costs[item];
  }
  return shard_of;
}

std::vector<double> shard_loads(const std::vector<double>& costs, const std::vector<int64_t>& shard_of,
                                int64_t n) {
  std::vector<double> load(static_cast<size_t>(n), 0.0);
  for (size_t i = 0; i < costs.size(); ++i) load[size_t(shard_of[i])] += costs[i];
  return load;
}

}  // namespace attn::bench

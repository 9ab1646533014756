// Splitting a benchmark grid into n disjoint shards of about equal estimated cost, so that each
// shard fits one time-limited GPU job (docs/benchmarks.md, "Sharding the nightly run").
//
// Contract:
// - Shards are numbered 1..n (1-based: "--shard 1/4" is the first of four).
// - assign_shards() puts every item in exactly one shard; the union of the n shards is the
//   whole grid and no item is in two shards.
// - The assignment is deterministic: it depends only on the costs and their order, never on the
//   machine, so n jobs that each compute the plan agree on it.
// - Greedy "longest processing time first": items by decreasing cost (ties: earlier item first)
//   each go to the shard with the least cost so far (ties: the lowest shard number). When the
//   last item of the heaviest shard was placed, that shard was the lightest, so its load was at
//   most the mean: max shard <= mean + largest item (and <= 4/3 of the best possible max).
// - With n <= number of items and every cost > 0, no shard is empty.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attn::bench {

struct Shard {
  int64_t index = 1, count = 1;  ///< the index-th of count shards, 1 <= index <= count
  std::string text() const;      ///< "2/4"
};

/// Parses "i/n" (two positive integers, 1 <= i <= n). Returns false and sets `error` to a
/// message naming what was expected and what was found (without the flag name).
bool parse_shard(const std::string& text, Shard& shard, std::string& error);

/// The shard (0-based, 0..n-1) of every item, by the greedy rule above. `costs` must be finite
/// and >= 0; n >= 1.
std::vector<int64_t> assign_shards(const std::vector<double>& costs, int64_t n);

/// The estimated cost of each shard (0-based) under an assignment.
std::vector<double> shard_loads(const std::vector<double>& costs, const std::vector<int64_t>& shard_of,
                                int64_t n);

}  // namespace attn::bench

// attn-bench's grid: the benchmarks it registers, in the order it runs them, and the part of
// them one shard runs (--shard i/n).
//
// Order (the order of an unsharded run, kept inside every shard): preset, workload, T, backend,
// then L increasing, so that within a run an out-of-memory L skips the larger L of the same
// workload/backend/preset/T at once.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/bench/bench_cost.hpp"
#include "kernels/bench/shard_plan.hpp"

namespace attn::bench {

struct Preset {
  std::string name;
  int64_t H = 0, Hkv = 0, D = 0;
};

/// The model presets (and the hidden `tiny`, H 2, Hkv 1, D 64, for CPU tests).
const std::vector<Preset>& all_presets();
/// nullptr when unknown.
const Preset* find_preset(const std::string& name);

/// Every backend attn-bench times.
const std::vector<std::string>& all_backends();
bool is_floor(const std::string& backend);

/// One benchmark of the grid.
struct BenchSpec {
  std::string workload, backend;
  Preset preset;
  int64_t L = 0, T = 0;
  std::vector<int64_t> valid_len;  ///< one per sequence of the batch
  /// "<workload>/<backend>/<preset>/L:<L>/T:<T>", the name `attn-harness report` parses.
  std::string name() const;
  BenchShape shape() const;
  /// "train_step/llama3-8b": the (workload, preset) group, the unit select_shard assigns
  std::string group_name() const;
};

struct GridOptions {
  std::vector<std::string> backends, presets, workloads;
  std::vector<int64_t> seqs, ttt;
  int64_t batch = 1;
};

/// Every benchmark of the options, in run order (duplicates in seqs are dropped).
std::vector<BenchSpec> build_grid(const GridOptions& o);

/// One shard of a grid: its benchmarks in run order and the estimated seconds of every shard.
struct ShardSelection {
  std::vector<BenchSpec> specs;       ///< the shard's benchmarks, in run order
  std::vector<double> seconds;        ///< estimated seconds of each of them
  std::vector<double> shard_seconds;  ///< estimated seconds of shard 1..n (index 0..n-1)
  size_t grid_size = 0;
};

/// The shard's part of `grid` under assign_shards(). The items assigned are (workload, preset)
/// groups, not single benchmarks: every backend, L and T of one group goes to the same shard, so
/// that the same-shape control floor-sdpa runs in the same job (on the same machine) as the
/// benchmarks it controls, and flex, whose compiled graphs are per (preset, workload), can run
/// the same groups in that job (`flex_adapter.py bench --groups`; docs/benchmarks.md, "Comparing
/// nights"). A group's cost is the sum of its benchmarks' estimate_seconds(spec, runs_of(L),
/// device_memory_gib). Requires shard.count <= the number of groups.
template <class RunsOf>
ShardSelection select_shard(const std::vector<BenchSpec>& grid, const Shard& shard, RunsOf runs_of,
                            double device_memory_gib) {
  std::vector<double> cost;
  std::vector<size_t> group_of;  // grid index -> group index (groups in order of first appearance)
  std::vector<double> group_cost;
  std::map<std::string, size_t> group_index;
  for (const BenchSpec& s : grid) {
    cost.push_back(estimate_seconds(s.shape(), runs_of(s.L), device_memory_gib));
    const auto [it, added] = group_index.emplace(s.group_name(), group_cost.size());
    if (added) group_cost.push_back(0);
    group_of.push_back(it->second);
    group_cost[it->second] += cost.back();
  }
  const std::vector<int64_t> shard_of_group = assign_shards(group_cost, shard.count);
  ShardSelection sel;
  sel.grid_size = grid.size();
  sel.shard_seconds = shard_loads(group_cost, shard_of_group, shard.count);
  for (size_t i = 0; i < grid.size(); ++i)
    if (shard_of_group[group_of[i]] == shard.index - 1) {
      sel.specs.push_back(grid[i]);
      sel.seconds.push_back(cost[i]);
    }
  return sel;
}

/// The number of (workload, preset) groups in `grid`: the most shards it splits into.
size_t count_groups(const std::vector<BenchSpec>& grid);

}  // namespace attn::bench

// The shard plan of attn-bench: "i/n" parsing and its errors, the greedy assignment (a
// partition, deterministic, within its bound), and the balance on the nightly grid in whole
// (workload, preset) groups.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "kernels/bench/bench_cost.hpp"
#include "kernels/bench/bench_grid.hpp"
#include "kernels/bench/bench_workload.hpp"
#include "kernels/bench/shard_plan.hpp"

namespace attn::bench {
namespace {

std::string parse_error(const std::string& text) {
  Shard s;
  std::string why;
  EXPECT_FALSE(parse_shard(text, s, why)) << text;
  return why;
}

TEST(ShardParse, AcceptsOneBasedIndices) {
  for (const auto& [text, i, n] : std::vector<std::tuple<std::string, int64_t, int64_t>>{
           {"1/1", 1, 1}, {"2/4", 2, 4}, {"4/4", 4, 4}, {"12/30", 12, 30}}) {
    Shard s;
    std::string why;
    ASSERT_TRUE(parse_shard(text, s, why)) << text << ": " << why;
    EXPECT_EQ(s.index, i);
    EXPECT_EQ(s.count, n);
    EXPECT_EQ(s.text(), text);
  }
}

TEST(ShardParse, ErrorsNameExpectedAndFound) {
  EXPECT_EQ(parse_error("0/3"), "expected i/n with 1 <= i <= n (shards are numbered from 1), found '0/3'");
  EXPECT_EQ(parse_error("4/3"), "expected i/n with 1 <= i <= n, found '4/3' (shard 4 of 3)");
  for (const char* bad : {"x/y", "3", "", "/3", "1/", "1/0", "-1/3", "1/3/4", " 1/3", "1/3 ", "+1/3", "1.0/3"})
    EXPECT_EQ(parse_error(bad), "expected i/n, two positive integers with i <= n such as 2/4, found '" +
                                    std::string(bad) + "'");
}

// Costs with a spread like the grid's: many small, a few large, some equal.
std::vector<double> sample_costs() {
  std::vector<double> c;
  for (int i = 0; i < 200; ++i) c.push_back(0.05 + double((i * 37) % 101) * 0.01 + (i % 17 == 0 ? 9.0 : 0.0));
  c.push_back(4.0);
  c.push_back(4.0);
  return c;
}

TEST(ShardAssign, IsAPartitionWithinTheGreedyBound) {
  const std::vector<double> costs = sample_costs();
  const double total = std::accumulate(costs.begin(), costs.end(), 0.0);
  const double largest = *std::max_element(costs.begin(), costs.end());
  for (int64_t n : {1, 2, 3, 5, 8, 13, 202}) {
    const std::vector<int64_t> shard_of = assign_shards(costs, n);
    ASSERT_EQ(shard_of.size(), costs.size());
    std::set<int64_t> used;
    for (int64_t s : shard_of) {
      ASSERT_GE(s, 0);
      ASSERT_LT(s, n);
      used.insert(s);
    }
    EXPECT_EQ(int64_t(used.size()), n) << "an empty shard with n = " << n;
    const std::vector<double> load = shard_loads(costs, shard_of, n);
    EXPECT_NEAR(std::accumulate(load.begin(), load.end(), 0.0), total, 1e-9 * total);
    const double mean = total / double(n);
    EXPECT_LE(*std::max_element(load.begin(), load.end()), mean + largest + 1e-9) << "n = " << n;
  }
}

TEST(ShardAssign, IsDeterministicAndBreaksTiesByOrder) {
  EXPECT_EQ(assign_shards(sample_costs(), 7), assign_shards(sample_costs(), 7));
  // Equal costs: the earlier item goes first, to the lowest-numbered lightest shard.
  EXPECT_EQ(assign_shards({1, 1, 1, 1}, 2), (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(assign_shards({1, 5, 2}, 2), (std::vector<int64_t>{1, 0, 1}));
}

GridOptions nightly_grid() {
  GridOptions o;
  o.backends = all_backends();
  o.presets = {"llama3-8b-mha", "llama3-8b", "qwen3-30b-a3b", "gpt-oss-20b"};
  o.workloads = all_workloads();
  o.seqs = {1024, 2048, 4096, 8192, 16384, 32768};
  o.ttt = {1, 3, 7};
  return o;
}

BenchRuns default_runs(int64_t L) {
  return {2, 3, L <= 2048 ? 10 : L <= 4096 ? 5 : L <= 16384 ? 2 : 1};
}

TEST(ShardGrid, NightlyGridHasEveryCombinationOnceInRunOrder) {
  const std::vector<BenchSpec> grid = build_grid(nightly_grid());
  EXPECT_EQ(grid.size(), size_t(4 * 4 * 3 * 7 * 6));
  std::set<std::string> names;
  for (const auto& s : grid) names.insert(s.name());
  EXPECT_EQ(names.size(), grid.size());
  EXPECT_EQ(grid.front().name(), "train_step/sdpa/llama3-8b-mha/L:1024/T:1");
  EXPECT_EQ(grid[1].name(), "train_step/sdpa/llama3-8b-mha/L:2048/T:1");
  EXPECT_EQ(grid.back().name(), "train_step_padded/floor-sdpa/gpt-oss-20b/L:32768/T:7");
  const BenchSpec& padded = grid.back();
  EXPECT_EQ(padded.valid_len, (std::vector<int64_t>{32768, 32768 - 4096}));
}

// The shards are whole (workload, preset) groups: every backend, L and T of a group, floor-sdpa
// among them, in one shard, so that the control runs in the same job as what it controls (and
// flex can run the same groups there). The balance the nightly jobs rely on: the greedy bound
// max <= mean + largest group for every n, and for the 3 and 4 shards of a nightly run every
// shard within 5 % of the mean estimate (the test checks the numbers).
TEST(ShardGrid, NightlyGridShardsAreWholeGroupsAndBalanced) {
  const std::vector<BenchSpec> grid = build_grid(nightly_grid());
  EXPECT_EQ(count_groups(grid), size_t(4 * 4));
  std::map<std::string, double> group_cost;
  for (const auto& s : grid) group_cost[s.group_name()] += estimate_seconds(s.shape(), default_runs(s.L), 140.0);
  double total = 0, largest = 0;
  for (const auto& [name, c] : group_cost) {
    total += c;
    largest = std::max(largest, c);
  }
  for (int64_t n = 1; n <= 16; ++n) {
    std::map<std::string, std::set<int64_t>> shards_of_group;
    std::set<std::string> names;
    double max = 0;
    for (int64_t i = 1; i <= n; ++i) {
      const ShardSelection sel = select_shard(grid, Shard{i, n}, default_runs, 140.0);
      ASSERT_EQ(sel.shard_seconds.size(), size_t(n));
      max = std::max(max, sel.shard_seconds[size_t(i - 1)]);
      EXPECT_NEAR(std::accumulate(sel.seconds.begin(), sel.seconds.end(), 0.0), sel.shard_seconds[size_t(i - 1)],
                  1e-6 * total) << "n = " << n << ", shard " << i;
      EXPECT_FALSE(sel.specs.empty()) << "n = " << n << ", shard " << i;
      for (const auto& s : sel.specs) {
        EXPECT_TRUE(names.insert(s.name()).second) << s.name() << " in two shards, n = " << n;
        shards_of_group[s.group_name()].insert(i);
      }
    }
    EXPECT_EQ(names.size(), grid.size()) << "n = " << n;
    for (const auto& [group, shards] : shards_of_group)
      EXPECT_EQ(shards.size(), 1u) << group << " split over shards, n = " << n;
    const double mean = total / double(n);
    EXPECT_LE(max, mean + largest + 1e-9) << "n = " << n;
    if (n == 3 || n == 4) EXPECT_LE(max / mean, 1.05) << "n = " << n << ", largest group " << largest << " s";
  }
}

TEST(ShardCost, ModelFollowsTheWorkloads) {
  BenchShape s{"train_step", "flash", 32, 32, 128, 4096, 7, {4096}};
  const double train = estimate_step_ms(s);
  s.workload = "fwd";
  EXPECT_LT(estimate_step_ms(s), train);
  s.workload = "train_step_padded";
  s.valid_len = {4096, 4096 - 512};
  EXPECT_GT(estimate_step_ms(s), 1.5 * train);  // two sequences, the second 7/8 long
  EXPECT_LT(estimate_step_ms(s), 2.0 * train);
  s.backend = "sdpa";
  s.workload = "train_step";
  s.valid_len = {4096};
  EXPECT_GT(estimate_step_ms(s), 5 * train);  // sdpa: explicit O(L^2) scores
  EXPECT_NEAR(estimate_memory_gib(s), 26.5, 0.5);  // the H100's measured peak at 4K, T 7
  s.L = 32768;
  const BenchRuns runs{2, 3, 1};
  EXPECT_LT(estimate_seconds(s, runs, 140.0), 2.0);  // predicted out of memory: one attempt
  EXPECT_GT(estimate_seconds(s, runs, 1e6), 60.0);
}

}  // namespace
}  // namespace attn::bench

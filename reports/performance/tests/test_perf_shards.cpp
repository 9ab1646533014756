// A sharded night merged into one report: the shard files together read exactly as one file
// with everything (any number of files, the same context in each), and the report notes
// missing or doubled shards and mixed commits. Also the padded workload's name and table.
#include <gtest/gtest.h>

#include <algorithm>

#include "reports/performance/perf_results.hpp"
#include "reports/performance/perf_shards.hpp"
#include "reports/performance/perf_tables.hpp"
#include "reports/performance/tests/perf_test_data.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using test::add_failure;
using test::add_repetitions;
using test::bench_doc;

// One night's benchmarks: three presets' worth, some failed, some with aggregates only.
json whole_night() {
  json doc = bench_doc();
  int k = 0;
  for (const char* w : {"train_step", "fwd", "bwd", "train_step_padded"})
    for (const char* b : {"sdpa", "flash", "floor"})
      for (const char* p : {"llama3-8b", "gpt-oss-20b"})
        for (int L : {1024, 8192}) {
          const std::string name = std::string(w) + "/" + b + "/" + p + "/L:" + std::to_string(L) + "/T:7";
          if (std::string(b) == "sdpa" && L == 8192) add_failure(doc, name, "OOM: CUDA out of memory", 3);
          else add_repetitions(doc, name, {10.0 + k, 11.0 + k, 10.5 + k}, {{"peak_mem_GiB", 0.5 + k}}, k % 2 == 0);
          ++k;
        }
  return doc;
}

// The night split into n shard files: the entries of a benchmark stay together (as a shard
// runs whole benchmarks), benchmark j to shard j mod n, every file with the same context.
std::vector<std::string> shard_files(const json& whole, int n, const std::string& executable,
                                     const std::string& stem) {
  std::vector<json> docs(size_t(n), whole);
  for (int i = 0; i < n; ++i) {
    docs[size_t(i)]["benchmarks"] = json::array();
    docs[size_t(i)]["context"]["shard"] = std::to_string(i + 1) + "/" + std::to_string(n);
    docs[size_t(i)]["context"]["executable"] = executable;
  }
  std::string last;
  int j = -1;
  for (const json& e : whole["benchmarks"]) {
    if (e["run_name"] != last) ++j;
    last = e["run_name"];
    docs[size_t(j % n)]["benchmarks"].push_back(e);
  }
  std::vector<std::string> paths;
  for (int i = 0; i < n; ++i) paths.push_back(test::write_temp(stem + std::to_string(i + 1), docs[size_t(i)]));
  return paths;
}

void expect_same_results(const PerfRun& a, const PerfRun& b) {
  ASSERT_EQ(a.results.size(), b.results.size());
  for (const auto& [key, r] : a.results) {
    const PerfResult* other = b.find(key);
    ASSERT_NE(other, nullptr) << key.name();
    EXPECT_EQ(other->status, r.status) << key.name();
    if (r.ok()) {
      EXPECT_DOUBLE_EQ(other->median_ms, r.median_ms) << key.name();
      EXPECT_DOUBLE_EQ(other->stddev_ms, r.stddev_ms) << key.name();
      EXPECT_DOUBLE_EQ(other->peak_mem_gib, r.peak_mem_gib) << key.name();
    }
  }
}

TEST(PerfShards, ShardFilesMergeExactlyAsOneFile) {
  const json whole = whole_night();
  const PerfRun one = load_perf_results({test::write_temp("whole", whole)});
  ASSERT_EQ(one.results.size(), 48u);
  for (int n : {1, 2, 5, 12, 48}) {
    const std::vector<std::string> files = shard_files(whole, n, "/opt/build/kernels/bench/attn-bench", "s");
    const PerfRun merged = load_perf_results(files);
    expect_same_results(one, merged);
    EXPECT_TRUE(merged.warnings.empty()) << "n = " << n << ": " << merged.warnings.front();
    ASSERT_EQ(merged.sources.size(), size_t(n));
    EXPECT_EQ(merged.sources.back().shard, std::to_string(n) + "/" + std::to_string(n));
    const PerfTable inputs = sources_table(merged);
    EXPECT_EQ(inputs.header.back(), "shard");
    EXPECT_EQ(inputs.rows.size(), size_t(n));
  }
}

TEST(PerfShards, TwoProgramsShardedAlikeAreComplete) {
  json flex = bench_doc();
  for (int L : {1024, 2048, 4096})
    add_repetitions(flex, "train_step/flex/llama3-8b/L:" + std::to_string(L) + "/T:7", {20, 21, 22});
  std::vector<std::string> files = shard_files(whole_night(), 4, "./attn-bench", "a");
  for (const auto& f : shard_files(flex, 3, "kernels/flex/flex_adapter.py bench", "f")) files.push_back(f);
  const PerfRun run = load_perf_results(files);
  EXPECT_EQ(run.results.size(), 51u);
  EXPECT_TRUE(run.warnings.empty());
}

TEST(PerfShards, MissingDoubledAndMixedShardsAreNoted) {
  std::vector<std::string> files = shard_files(whole_night(), 5, "./attn-bench", "m");
  files.erase(files.begin() + 3);  // 4/5 lost
  files.erase(files.begin() + 1);  // 2/5 lost
  files.push_back(files.front());  // 1/5 twice
  const PerfRun run = load_perf_results(files);
  std::vector<std::string> notes = run.warnings;
  ASSERT_EQ(notes.size(), 2u + 10u);  // + the 10 benchmarks of 1/5 (0, 5, ..., 45) read twice ("replaces")
  EXPECT_NE(std::find(notes.begin(), notes.end(),
                      "attn-bench: 2 of 5 shards missing (2/5, 4/5): their benchmarks are not in this report"),
            notes.end());
  const auto doubled = std::find_if(notes.begin(), notes.end(), [](const std::string& s) {
    return s.rfind("attn-bench: shard 1/5 is in 2 files", 0) == 0;
  });
  EXPECT_NE(doubled, notes.end());

  PerfSource a, b, c;
  a.path = "a.json";
  a.shard = "1/2";
  a.commit = "abc";
  b = a;
  b.path = "b.json";
  b.shard = "2/2";
  b.commit = "def";
  c.path = "c.json";
  c.shard = "3/2";
  EXPECT_EQ(shard_notes({a, b, c}),
            (std::vector<std::string>{
                "c.json: context shard \"3/2\" is not i/n with 1 <= i <= n; not checked",
                "the shards come from 2 commits (abc: 1 file, def: 1 file); one night's shards should come "
                "from one build"}));
  PerfSource unsharded;
  unsharded.path = "u.json";
  EXPECT_TRUE(shard_notes({unsharded}).empty());
}

TEST(PerfShards, PaddedWorkloadIsStructuredAfterBwdWithItsOverhead) {
  BenchKey k;
  ASSERT_TRUE(parse_bench_name("train_step_padded/flash/llama3-8b/L:4096/T:7/iterations:5/manual_time", k));
  EXPECT_EQ(k.workload, "train_step_padded");
  BenchKey bwd = k;
  bwd.workload = "bwd";
  EXPECT_LT(bwd, k);
  const PerfRun run = load_perf_results({test::write_temp("padded", whole_night())});
  const PerfTable ov = overhead_table(run, "llama3-8b");
  EXPECT_EQ(ov.header.back(), "train step (padded) T=7");
  EXPECT_EQ(ov.rows.size(), 2u);  // L 1K and 8K
}

}  // namespace
}  // namespace attn::report

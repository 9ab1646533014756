// Reading Google Benchmark JSON: names into keys, repetitions and aggregates into medians and
// noise, failures into statuses, several files into one run, bad input into named errors.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/errors.hpp"
#include "reports/performance/perf_results.hpp"
#include "reports/performance/tests/perf_test_data.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using test::add_failure;
using test::add_repetitions;
using test::bench_doc;

BenchKey key(const std::string& w, const std::string& b, const std::string& p, std::int64_t L, std::int64_t T) {
  BenchKey k;
  k.workload = w;
  k.backend = b;
  k.preset = p;
  k.L = L;
  k.T = T;
  return k;
}

PerfRun run_of(const json& doc, const std::string& source = "synthetic.json") {
  PerfRun run;
  add_benchmark_json(run, doc, source);
  return run;
}

using test::input_error;

TEST(PerfNames, ParsesTheSchemeAndIgnoresGoogleBenchmarkSuffixes) {
  BenchKey k;
  ASSERT_TRUE(parse_bench_name("train_step/flash/llama3-8b/L:4096/T:7", k));
  EXPECT_EQ(k, key("train_step", "flash", "llama3-8b", 4096, 7));
  ASSERT_TRUE(parse_bench_name("fwd/sdpa/gpt-oss-20b/L:32768/T:1/iterations:3/repeats:5/manual_time", k));
  EXPECT_EQ(k, key("fwd", "sdpa", "gpt-oss-20b", 32768, 1));
  EXPECT_EQ(k.name(), "fwd/sdpa/gpt-oss-20b/L:32768/T:1");
  ASSERT_TRUE(parse_bench_name("bwd/flex/qwen3-30b-a3b/T:3/L:1024", k));  // order of L and T free
  EXPECT_EQ(k.L, 1024);
  EXPECT_EQ(k.T, 3);
  for (const char* bad : {"BM_gemm", "train_step/flash/llama3-8b", "train_step/flash/llama3-8b/L:4096",
                          "train_step/flash/llama3-8b/L:4k/T:7", "train_step/flash/L:4096/T:7",
                          "train_step//llama3-8b/L:1/T:1"})
    EXPECT_FALSE(parse_bench_name(bad, k)) << bad;
}

TEST(PerfNames, KeysOrderWorkloadPresetBackendTL) {
  EXPECT_LT(key("train_step", "flash", "a", 4096, 7), key("fwd", "flash", "a", 1024, 1));
  EXPECT_LT(key("fwd", "flash", "a", 1024, 1), key("bwd", "flash", "a", 1024, 1));
  EXPECT_LT(key("train_step", "sdpa", "a", 4096, 7), key("train_step", "flex", "a", 1024, 7));
  EXPECT_LT(key("train_step", "flex", "a", 4096, 7), key("train_step", "flash", "a", 1024, 7));
  EXPECT_LT(key("train_step", "flash", "a", 4096, 7), key("train_step", "floor", "a", 1024, 7));
  EXPECT_LT(key("train_step", "flash", "a", 4096, 1), key("train_step", "flash", "a", 1024, 7));
  EXPECT_LT(key("train_step", "flash", "a", 1024, 7), key("train_step", "flash", "a", 4096, 7));
}

TEST(PerfStats, MedianAndSampleStddev) {
  EXPECT_DOUBLE_EQ(median_of({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median_of({4, 1, 3, 2}), 2.5);
  EXPECT_TRUE(std::isnan(median_of({})));
  EXPECT_NEAR(sample_stddev({1, 2, 3, 4}), std::sqrt(5.0 / 3.0), 1e-12);
  EXPECT_TRUE(std::isnan(sample_stddev({5})));
}

TEST(PerfResults, RepetitionsWithAggregates) {
  json doc = bench_doc();
  add_repetitions(doc, "train_step/flash/llama3-8b/L:4096/T:7", {47, 45, 46},
                  {{"TFLOPS", 100.0}, {"gemm_TFLOPS", 660.0}, {"pct_of_gemm", 15.2}, {"peak_mem_GiB", 1.0},
                   {"B", 1}, {"H", 32}, {"Hkv", 8}, {"D", 128}, {"L", 4096}, {"T", 7}});
  const PerfRun run = run_of(doc);
  ASSERT_EQ(run.results.size(), 1u);
  const PerfResult* r = run.find(key("train_step", "flash", "llama3-8b", 4096, 7));
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->ok());
  EXPECT_DOUBLE_EQ(r->median_ms, 46);
  EXPECT_DOUBLE_EQ(r->mean_ms, 46);
  EXPECT_DOUBLE_EQ(r->stddev_ms, 1);
  EXPECT_TRUE(r->noise_measured);
  EXPECT_DOUBLE_EQ(r->min_ms, 45);
  EXPECT_DOUBLE_EQ(r->max_ms, 47);
  EXPECT_EQ(r->repetitions, 3);
  EXPECT_DOUBLE_EQ(r->tflops, 100);
  EXPECT_DOUBLE_EQ(r->pct_of_gemm, 15.2);
  EXPECT_DOUBLE_EQ(r->peak_mem_gib, 1.0);
  EXPECT_DOUBLE_EQ(r->Hkv, 8);
  EXPECT_TRUE(std::isnan(r->compile_s));
  EXPECT_EQ(run.presets, std::vector<std::string>{"llama3-8b"});
  ASSERT_EQ(run.sources.size(), 1u);
  EXPECT_EQ(run.sources[0].device, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(run.sources[0].commit, "abc123");
  EXPECT_EQ(run.sources[0].benchmarks, 1);
  EXPECT_TRUE(run.warnings.empty());
}

TEST(PerfResults, AggregatesWinOverRepetitions) {
  json doc = bench_doc();
  add_repetitions(doc, "fwd/flash/p/L:1024/T:7", {10, 11, 12}, json::object(), false);
  for (const auto& [agg, v] : std::vector<std::pair<std::string, double>>{{"median", 10.5}, {"stddev", 0.25}})
    doc["benchmarks"].push_back({{"name", "fwd/flash/p/L:1024/T:7/manual_time_" + agg}, {"run_type", "aggregate"},
                                 {"aggregate_name", agg}, {"real_time", v}, {"time_unit", "ms"}});  // no run_name
  const PerfResult& r = run_of(doc).results.begin()->second;
  EXPECT_DOUBLE_EQ(r.median_ms, 10.5);
  EXPECT_DOUBLE_EQ(r.stddev_ms, 0.25);
  EXPECT_EQ(r.repetitions, 3);
}

TEST(PerfResults, RepetitionsWithoutAggregates) {
  json doc = bench_doc();
  add_repetitions(doc, "train_step/flex/p/L:2048/T:7", {10, 14, 11, 13},
                  {{"peak_mem_GiB", 2.0}, {"compile_s", 21.5}}, false);
  doc["benchmarks"][2]["peak_mem_GiB"] = 2.5;  // peak memory: the largest repetition
  const PerfResult& r = run_of(doc).results.begin()->second;
  EXPECT_DOUBLE_EQ(r.median_ms, 12);
  EXPECT_DOUBLE_EQ(r.mean_ms, 12);
  EXPECT_NEAR(r.stddev_ms, std::sqrt(10.0 / 3.0), 1e-12);
  EXPECT_TRUE(r.noise_measured);
  EXPECT_DOUBLE_EQ(r.peak_mem_gib, 2.5);
  EXPECT_DOUBLE_EQ(r.peak_mem_spread_gib, 0.5);
  EXPECT_DOUBLE_EQ(r.compile_s, 21.5);
}

TEST(PerfResults, AggregatesOnlyAndSingleRepetition) {
  json doc = bench_doc();
  add_repetitions(doc, "train_step/flash/p/L:1024/T:7", {10, 12, 14});
  json only_aggregates = bench_doc();
  for (const auto& e : doc["benchmarks"])
    if (e["run_type"] == "aggregate") only_aggregates["benchmarks"].push_back(e);
  const PerfResult& a = run_of(only_aggregates).results.begin()->second;
  EXPECT_DOUBLE_EQ(a.median_ms, 12);
  EXPECT_DOUBLE_EQ(a.stddev_ms, 2);
  EXPECT_TRUE(a.noise_measured);
  EXPECT_EQ(a.repetitions, 0);
  EXPECT_TRUE(std::isnan(a.min_ms));

  json single = bench_doc();
  add_repetitions(single, "train_step/flash/p/L:1024/T:7", {10});
  const PerfResult& s = run_of(single).results.begin()->second;
  EXPECT_DOUBLE_EQ(s.median_ms, 10);
  EXPECT_FALSE(s.noise_measured);
}

TEST(PerfResults, TimeUnitsBecomeMilliseconds) {
  for (const auto& [unit, value] : std::vector<std::pair<std::string, double>>{
           {"ns", 46e6}, {"us", 46e3}, {"ms", 46.0}, {"s", 0.046}}) {
    json doc = bench_doc();
    doc["benchmarks"].push_back({{"name", "train_step/flash/p/L:1/T:1"}, {"run_type", "iteration"},
                                 {"real_time", value}, {"time_unit", unit}});
    EXPECT_NEAR(run_of(doc).results.begin()->second.median_ms, 46.0, 1e-9) << unit;
  }
}

TEST(PerfResults, TheGemmRateIsANumberOrANumericStringInTheContext) {
  // Google Benchmark writes custom context values as strings: the bench runner's rate arrives
  // as "793.198".
  json doc = bench_doc();
  EXPECT_DOUBLE_EQ(run_of(doc).sources[0].gemm_bf16_tflops, 660.0);
  doc["context"]["gemm_bf16_tflops"] = "793.198";
  EXPECT_DOUBLE_EQ(run_of(doc).sources[0].gemm_bf16_tflops, 793.198);
  for (const char* bad : {"", "fast", "793.198 TFLOP/s"}) {
    doc["context"]["gemm_bf16_tflops"] = bad;
    EXPECT_TRUE(std::isnan(run_of(doc).sources[0].gemm_bf16_tflops)) << bad;
  }
  doc["context"].erase("gemm_bf16_tflops");
  EXPECT_TRUE(std::isnan(run_of(doc).sources[0].gemm_bf16_tflops));
}

TEST(PerfResults, FailuresBecomeStatuses) {
  json doc = bench_doc();
  add_failure(doc, "train_step/sdpa/p/L:8192/T:7", "OOM: CUDA out of memory. Tried to allocate 12 GiB", 3);
  add_failure(doc, "fwd/flex/p/L:8192/T:7", "unsupported: flex adapter times train_step only");
  add_failure(doc, "bwd/flash/p/L:8192/T:7", "CUDA error: illegal memory access");
  doc["benchmarks"].push_back({{"name", "bwd/floor/p/L:8192/T:7"}, {"run_type", "iteration"}, {"skipped", true},
                               {"skip_message", "no floor for bwd"}});
  const PerfRun run = run_of(doc);
  ASSERT_EQ(run.results.size(), 4u);
  const PerfResult* oom = run.find(key("train_step", "sdpa", "p", 8192, 7));
  ASSERT_NE(oom, nullptr);
  EXPECT_EQ(oom->status, RunStatus::oom);
  EXPECT_FALSE(oom->ok());
  EXPECT_EQ(oom->repetitions, 0);  // the zero times of failed entries are not samples
  EXPECT_TRUE(std::isnan(oom->median_ms));
  EXPECT_NE(oom->message.find("Tried to allocate"), std::string::npos);
  EXPECT_EQ(run.find(key("fwd", "flex", "p", 8192, 7))->status, RunStatus::unsupported);
  EXPECT_EQ(run.find(key("bwd", "flash", "p", 8192, 7))->status, RunStatus::error);
  EXPECT_EQ(run.find(key("bwd", "floor", "p", 8192, 7))->status, RunStatus::unsupported);
  EXPECT_STREQ(status_name(RunStatus::oom), "OOM");
}

TEST(PerfResults, MergesFilesAndReportsDuplicatesAndStrangeNames) {
  json runner = bench_doc();
  add_repetitions(runner, "train_step/flash/llama3-8b/L:4096/T:7", {46, 47, 45});
  add_repetitions(runner, "BM_gemm_bf16", {1.0, 1.1, 0.9});
  json adapter = bench_doc();
  adapter["context"]["device"] = "NVIDIA H100 80GB HBM3";
  add_repetitions(adapter, "train_step/flex/qwen3-30b-a3b/L:4096/T:7", {56, 57, 55},
                  {{"compile_s", 30.0}}, false);
  add_repetitions(adapter, "train_step/flash/llama3-8b/L:4096/T:7", {40, 41, 39});
  const PerfRun run = load_perf_results({test::write_temp("runner", runner), test::write_temp("adapter", adapter)});
  EXPECT_EQ(run.results.size(), 3u);
  EXPECT_EQ(run.sources.size(), 2u);
  EXPECT_EQ(run.presets, (std::vector<std::string>{"llama3-8b", "qwen3-30b-a3b"}));
  EXPECT_DOUBLE_EQ(run.find(key("train_step", "flex", "qwen3-30b-a3b", 4096, 7))->compile_s, 30.0);
  // The later file wins, and says so.
  EXPECT_DOUBLE_EQ(run.find(key("train_step", "flash", "llama3-8b", 4096, 7))->median_ms, 40);
  ASSERT_EQ(run.warnings.size(), 2u);
  EXPECT_NE(run.warnings[0].find("BM_gemm_bf16"), std::string::npos);
  EXPECT_NE(run.warnings[1].find("replaces"), std::string::npos);
  BenchKey gemm;
  gemm.workload = "BM_gemm_bf16/manual_time";
  ASSERT_NE(run.find(gemm), nullptr);
  EXPECT_FALSE(gemm.structured());
}

TEST(PerfResults, BadInputNamesTheFileAndWhatIsMissing) {
  EXPECT_NE(input_error([] { load_perf_results({"/no/such/bench.json"}); }).find("/no/such/bench.json"),
            std::string::npos);
  const std::string not_json = test::write_temp_text("broken", "{\"context\": {}, \"benchmarks\": [");
  EXPECT_NE(input_error([&] { load_perf_results({not_json}); }).find("not JSON"), std::string::npos);

  const std::string no_benchmarks = test::write_temp("nobench", {{"context", json::object()}, {"results", json::array()}});
  const std::string msg = input_error([&] { load_perf_results({no_benchmarks}); });
  EXPECT_NE(msg.find(no_benchmarks), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"benchmarks\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("results"), std::string::npos) << msg;  // what was found instead

  EXPECT_NE(input_error([] { run_of(json::array()); }).find("not Google Benchmark JSON"), std::string::npos);
  EXPECT_NE(input_error([] { run_of({{"benchmarks", json::array()}}); }).find("\"context\""), std::string::npos);
  EXPECT_NE(input_error([] { run_of({{"context", json::object()}, {"benchmarks", json::object()}}); })
                .find("found an object"),
            std::string::npos);

  json no_name = bench_doc();
  no_name["benchmarks"].push_back({{"real_time", 1.0}});
  EXPECT_NE(input_error([&] { run_of(no_name); }).find("benchmarks[0]: no \"name\""), std::string::npos);
  json no_time = bench_doc();
  no_time["benchmarks"].push_back({{"name", "train_step/flash/p/L:1/T:1"}, {"time_unit", "ms"}});
  EXPECT_NE(input_error([&] { run_of(no_time); }).find("real_time"), std::string::npos);
  json bad_unit = bench_doc();
  bad_unit["benchmarks"].push_back({{"name", "train_step/flash/p/L:1/T:1"}, {"real_time", 1.0}, {"time_unit", "min"}});
  EXPECT_NE(input_error([&] { run_of(bad_unit); }).find("time_unit"), std::string::npos);

  const std::string empty = test::write_temp("empty", bench_doc());
  EXPECT_NE(input_error([&] { load_perf_results({empty}); }).find("no benchmarks"), std::string::npos);
  EXPECT_NE(input_error([] { load_perf_results({}); }).find("no benchmark JSON"), std::string::npos);
}

TEST(PerfResults, CommittedSampleMergesRunnerAndFlexAdapter) {
  const PerfRun run = load_perf_results({test::sample("sample_bench.json"), test::sample("sample_bench_flex.json")});
  EXPECT_EQ(run.presets, (std::vector<std::string>{"llama3-8b-mha", "llama3-8b"}));
  EXPECT_TRUE(run.warnings.empty());
  const PerfResult* sdpa8k = run.find(key("train_step", "sdpa", "llama3-8b-mha", 8192, 7));
  ASSERT_NE(sdpa8k, nullptr);
  EXPECT_EQ(sdpa8k->status, RunStatus::oom);
  const PerfResult* flash4k = run.find(key("train_step", "flash", "llama3-8b-mha", 4096, 7));
  ASSERT_NE(flash4k, nullptr);
  EXPECT_NEAR(flash4k->median_ms, 46, 1.0);
  EXPECT_NEAR(flash4k->peak_mem_gib, 1.0, 0.01);
  EXPECT_EQ(flash4k->repetitions, 3);
  const PerfResult* flex16k = run.find(key("train_step", "flex", "llama3-8b-mha", 16384, 7));
  ASSERT_NE(flex16k, nullptr);
  EXPECT_NEAR(flex16k->median_ms, 419, 5);
  EXPECT_GT(flex16k->compile_s, 0);
  EXPECT_TRUE(flex16k->noise_measured);  // computed from the repetitions: no aggregates there
  EXPECT_EQ(run.find(key("fwd", "flex", "llama3-8b-mha", 4096, 7))->status, RunStatus::unsupported);
  const PerfResult* gqa = run.find(key("train_step", "flash", "llama3-8b", 4096, 7));
  ASSERT_NE(gqa, nullptr);
  EXPECT_EQ(gqa->repetitions, 0);  // aggregates only
  EXPECT_TRUE(gqa->noise_measured);
}

}  // namespace
}  // namespace attn::report

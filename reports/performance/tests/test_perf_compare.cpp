// The change table's rule: a change is flagged only when it exceeds the measured noise; newly
// OOM or failing benchmarks are always flagged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "datasets/errors.hpp"
#include "reports/performance/perf_compare.hpp"
#include "reports/performance/perf_controls.hpp"
#include "reports/performance/perf_noise.hpp"
#include "reports/performance/perf_tables.hpp"
#include "reports/performance/tests/perf_test_data.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using test::add_failure;
using test::add_repetitions;
using test::bench_doc;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

PerfRun run_of(const json& doc) {
  PerfRun run;
  add_benchmark_json(run, doc, "synthetic.json");
  return run;
}

// Three repetitions with median `ms` and sample stddev `noise_pct` % of it.
std::vector<double> reps(double ms, double noise_pct) {
  const double d = ms * noise_pct / 100;
  return {ms - d, ms, ms + d};
}

const PerfChange& change_of(const PerfComparison& c, const std::string& name) {
  for (const auto& ch : c.changes)
    if (ch.key.name() == name) return ch;
  throw std::runtime_error("no change for " + name);
}

TEST(PerfRule, FlagsOnlyChangesBeyondTheNoise) {
  const CompareRule rule;  // 2 x noise and 1 %
  // 10 % slower with 1 % noise: regression.
  EXPECT_EQ(judge_change(100, 110, 1, rule), Verdict::regression);
  // 1 % slower with 2 % noise: within noise.
  EXPECT_EQ(judge_change(100, 101, 2, rule), Verdict::within_noise);
  // The same the other way round.
  EXPECT_EQ(judge_change(110, 100, 1, rule), Verdict::improvement);
  EXPECT_EQ(judge_change(101, 100, 2, rule), Verdict::within_noise);
  // Just over / under 2 x noise.
  EXPECT_EQ(judge_change(100, 106.1, 3, rule), Verdict::regression);
  EXPECT_EQ(judge_change(100, 105.9, 3, rule), Verdict::within_noise);
  // Tiny noise: the 1 % floor still applies.
  EXPECT_EQ(judge_change(100, 100.9, 0.01, rule), Verdict::within_noise);
  EXPECT_EQ(judge_change(100, 101.1, 0.01, rule), Verdict::regression);
  // Unmeasured noise: no claim either way.
  EXPECT_EQ(judge_change(100, 150, kNaN, rule), Verdict::noise_unknown);
  // The factors are options.
  EXPECT_EQ(judge_change(100, 110, 1, CompareRule{20.0, 0.01}), Verdict::within_noise);
  EXPECT_EQ(judge_change(100, 103, 0.1, CompareRule{2.0, 0.05}), Verdict::within_noise);
}

TEST(PerfCompare, NoiseComesFromTheRepetitionsOfBothRuns) {
  json old_doc = bench_doc("old"), new_doc = bench_doc("new");
  // 10 % slower, 1 % noise.
  add_repetitions(old_doc, "train_step/flash/p/L:16384/T:7", reps(260, 1), {{"peak_mem_GiB", 4.1}});
  add_repetitions(new_doc, "train_step/flash/p/L:16384/T:7", reps(286, 1), {{"peak_mem_GiB", 4.1}});
  // 1 % slower, 2 % noise in the new run only: the larger stddev counts.
  add_repetitions(old_doc, "train_step/flash/p/L:8192/T:7", reps(100, 0.1));
  add_repetitions(new_doc, "train_step/flash/p/L:8192/T:7", reps(101, 2));
  // 10 % faster, 1 % noise.
  add_repetitions(old_doc, "train_step/flex/p/L:4096/T:7", reps(63, 1));
  add_repetitions(new_doc, "train_step/flex/p/L:4096/T:7", reps(56.7, 1));
  // One repetition in the old run: noise unknown.
  add_repetitions(old_doc, "train_step/floor/p/L:4096/T:7", {30});
  add_repetitions(new_doc, "train_step/floor/p/L:4096/T:7", reps(40, 1));
  const PerfRun before = run_of(old_doc), after = run_of(new_doc);
  const PerfComparison c = compare_runs(before, after);
  ASSERT_EQ(c.changes.size(), 4u);

  const PerfChange& slow = change_of(c, "train_step/flash/p/L:16384/T:7");
  EXPECT_EQ(slow.time, Verdict::regression);
  EXPECT_NEAR(slow.change_pct, 10, 1e-9);
  EXPECT_NEAR(slow.noise_ms, 2.86, 1e-9);  // max(2.6, 2.86)
  EXPECT_EQ(slow.memory, Verdict::within_noise);
  EXPECT_TRUE(slow.flagged_bad());

  const PerfChange& noisy = change_of(c, "train_step/flash/p/L:8192/T:7");
  EXPECT_EQ(noisy.time, Verdict::within_noise);
  EXPECT_NEAR(noisy.noise_ms, 2.02, 1e-9);
  EXPECT_FALSE(noisy.flagged_bad());

  EXPECT_EQ(change_of(c, "train_step/flex/p/L:4096/T:7").time, Verdict::improvement);
  EXPECT_EQ(change_of(c, "train_step/floor/p/L:4096/T:7").time, Verdict::noise_unknown);
  EXPECT_EQ(c.regressions, 1);
  EXPECT_EQ(c.improvements, 1);
}

TEST(PerfCompare, NewlyOomOrFailingIsAlwaysFlagged) {
  json old_doc = bench_doc("old"), new_doc = bench_doc("new");
  add_repetitions(old_doc, "train_step/flex/p/L:16384/T:7", reps(419, 1), {{"peak_mem_GiB", 36.0}});
  add_failure(new_doc, "train_step/flex/p/L:16384/T:7", "OOM: CUDA out of memory", 3);
  add_repetitions(old_doc, "fwd/flash/p/L:2048/T:7", reps(2, 1));
  add_failure(new_doc, "fwd/flash/p/L:2048/T:7", "CUDA error: illegal memory access");
  add_failure(old_doc, "train_step/sdpa/p/L:8192/T:7", "OOM: CUDA out of memory");
  add_repetitions(new_doc, "train_step/sdpa/p/L:8192/T:7", reps(700, 1));
  add_failure(old_doc, "train_step/sdpa/p/L:16384/T:7", "OOM: CUDA out of memory");
  add_failure(new_doc, "train_step/sdpa/p/L:16384/T:7", "OOM: CUDA out of memory");
  add_repetitions(old_doc, "train_step/sdpa/p/L:1024/T:7", reps(12, 1));  // gone
  add_repetitions(new_doc, "train_step/flash/p/L:65536/T:7", reps(900, 1));  // new
  const PerfRun before = run_of(old_doc), after = run_of(new_doc);
  const PerfComparison c = compare_runs(before, after);
  EXPECT_EQ(change_of(c, "train_step/flex/p/L:16384/T:7").time, Verdict::newly_oom);
  EXPECT_TRUE(std::isnan(change_of(c, "train_step/flex/p/L:16384/T:7").new_ms));
  EXPECT_EQ(change_of(c, "fwd/flash/p/L:2048/T:7").time, Verdict::newly_failing);
  EXPECT_EQ(change_of(c, "train_step/sdpa/p/L:8192/T:7").time, Verdict::now_runs);
  EXPECT_EQ(change_of(c, "train_step/sdpa/p/L:16384/T:7").time, Verdict::still_failing);
  EXPECT_EQ(c.regressions, 2);
  EXPECT_EQ(c.improvements, 1);
  ASSERT_EQ(c.only_old.size(), 1u);
  EXPECT_EQ(c.only_old[0].name(), "train_step/sdpa/p/L:1024/T:7");
  ASSERT_EQ(c.only_new.size(), 1u);
  EXPECT_EQ(c.only_new[0].L, 65536);
  EXPECT_TRUE(is_flagged_bad(Verdict::newly_oom));
  EXPECT_FALSE(is_flagged_bad(Verdict::still_failing));
  EXPECT_STREQ(verdict_name(Verdict::newly_oom), "newly OOM");
}

TEST(PerfCompare, PeakMemoryGrowthIsARegression) {
  json old_doc = bench_doc("old"), new_doc = bench_doc("new");
  add_repetitions(old_doc, "train_step/flash/p/L:32768/T:7", reps(700, 1), {{"peak_mem_GiB", 7.4}});
  add_repetitions(new_doc, "train_step/flash/p/L:32768/T:7", reps(700, 1), {{"peak_mem_GiB", 8.2}});
  add_repetitions(old_doc, "train_step/flash/p/L:4096/T:7", reps(46, 1), {{"peak_mem_GiB", 1.000}});
  add_repetitions(new_doc, "train_step/flash/p/L:4096/T:7", reps(46, 1), {{"peak_mem_GiB", 1.005}});
  // 20 % more, but only 8 MiB: allocator granularity, not a regression.
  add_repetitions(old_doc, "train_step/floor/p/L:1024/T:7", reps(5, 1), {{"peak_mem_GiB", 0.039}});
  add_repetitions(new_doc, "train_step/floor/p/L:1024/T:7", reps(5, 1), {{"peak_mem_GiB", 0.047}});
  const PerfRun before = run_of(old_doc), after = run_of(new_doc);
  const PerfComparison c = compare_runs(before, after);
  EXPECT_EQ(change_of(c, "train_step/floor/p/L:1024/T:7").memory, Verdict::within_noise);
  const PerfChange& big = change_of(c, "train_step/flash/p/L:32768/T:7");
  EXPECT_EQ(big.time, Verdict::within_noise);
  EXPECT_EQ(big.memory, Verdict::regression);
  EXPECT_TRUE(big.flagged_bad());
  EXPECT_EQ(change_of(c, "train_step/flash/p/L:4096/T:7").memory, Verdict::within_noise);
  EXPECT_EQ(c.regressions, 1);
}

TEST(PerfCompare, CommittedSampleShowsThePlantedChanges) {
  const PerfRun after =
      load_perf_results({test::sample("sample_bench.json"), test::sample("sample_bench_flex.json")});
  const PerfRun before = load_perf_results({test::sample("sample_bench_previous.json")});
  const PerfComparison c = compare_runs(before, after);
  std::vector<std::string> flagged;
  for (const auto& ch : c.changes)
    if (ch.flagged_bad()) flagged.push_back(ch.key.name());
  EXPECT_EQ(flagged, (std::vector<std::string>{
                         "train_step/flex/llama3-8b/L:16384/T:7",         // newly OOM
                         "train_step/flash/llama3-8b-mha/L:16384/T:7",    // +10 %, 1 % noise
                         "train_step/flash/llama3-8b-mha/L:32768/T:7",    // memory +11 %
                         "train_step/floor/llama3-8b-mha/L:2048/T:1"}));  // newly failing
  EXPECT_EQ(change_of(c, "train_step/flash/llama3-8b-mha/L:16384/T:7").time, Verdict::regression);
  EXPECT_EQ(change_of(c, "train_step/flash/llama3-8b-mha/L:8192/T:7").time, Verdict::within_noise);
  EXPECT_EQ(change_of(c, "train_step/flex/llama3-8b-mha/L:4096/T:7").time, Verdict::improvement);
  EXPECT_EQ(change_of(c, "train_step/flex/llama3-8b/L:16384/T:7").time, Verdict::newly_oom);
  EXPECT_EQ(c.only_new.size(), 4u);  // L=32768 T=1 of the mha preset was not in the old grid
  EXPECT_TRUE(c.only_old.empty());
  EXPECT_EQ(c.regressions, 4);
}

}  // namespace
}  // namespace attn::report

namespace attn::report {
namespace {

// A night: flash, floor and the control floor-sdpa at two lengths, every time scaled by
// `machine` (a slower or faster machine), flash additionally by `flash_factor`.
nlohmann::json night(double machine, double flash_factor, double noise_pct = 0.5) {
  nlohmann::json doc = test::bench_doc("c");
  for (int L : {4096, 16384}) {
    const double base = L == 4096 ? 8.0 : 100.0;
    const std::string sfx = "/llama3-8b/L:" + std::to_string(L) + "/T:7";
    test::add_repetitions(doc, "train_step/floor-sdpa" + sfx, reps(base * machine, noise_pct), {{"gemm_TFLOPS", 800 / machine}});
    test::add_repetitions(doc, "train_step/floor" + sfx, reps(1.3 * base * machine, noise_pct), {{"gemm_TFLOPS", 800 / machine}});
    test::add_repetitions(doc, "train_step/flash" + sfx, reps(1.9 * base * machine * flash_factor, noise_pct),
                          {{"gemm_TFLOPS", 800 / machine}});
  }
  return doc;
}

TEST(PerfControls, AStepTimeIsTakenOverPlainAttentionOfTheSameShapeElseTheGemmRate) {
  const PerfRun run = run_of(night(1.0, 1.0));
  const ControlledTime flash = controlled_time(run, *run.find("train_step", "flash", "llama3-8b", 4096, 7));
  EXPECT_EQ(flash.control, "floor-sdpa");
  EXPECT_NEAR(flash.value, 1.9, 1e-12);
  EXPECT_NEAR(flash.rel_noise, std::hypot(0.005, 0.005), 1e-12);
  const ControlledTime control = controlled_time(run, *run.find("train_step", "floor-sdpa", "llama3-8b", 4096, 7));
  EXPECT_EQ(control.control, "gemm");  // the control itself is judged against the GEMM rate
  EXPECT_NEAR(control.value, 8.0 * 800, 1e-9);
}

// A benchmark the runner skipped for its time budget (flex_adapter.py --budget-s) is a gap in the
// grid: reported as "not run", never flagged as newly failing, and not counted as an error.
TEST(PerfCompare, ABenchmarkSkippedForTheTimeBudgetIsNotRunNotFailing) {
  json old_doc = bench_doc("a"), new_doc = bench_doc("b");
  add_repetitions(old_doc, "fwd/flex/p/L:4096/T:1", reps(2.0, 1));
  add_failure(new_doc, "fwd/flex/p/L:4096/T:1", "skipped: the sweep's time budget (--budget-s 180) ran out", 3);
  add_repetitions(old_doc, "fwd/flex/p/L:8192/T:1", reps(4.0, 1));
  add_failure(new_doc, "fwd/flex/p/L:8192/T:1", "RuntimeError: boom", 3);
  const PerfRun before = run_of(old_doc), after = run_of(new_doc);
  EXPECT_EQ(after.find("fwd", "flex", "p", 4096, 1)->status, RunStatus::not_run);
  EXPECT_STREQ(status_name(RunStatus::not_run), "not run");
  EXPECT_EQ(run_counts(after), "2 benchmarks: 0 ok, 1 error, 1 not run");
  const PerfComparison c = compare_runs(before, after);
  EXPECT_EQ(change_of(c, "fwd/flex/p/L:4096/T:1").time, Verdict::not_run);
  EXPECT_FALSE(change_of(c, "fwd/flex/p/L:4096/T:1").flagged_bad());
  EXPECT_EQ(change_of(c, "fwd/flex/p/L:8192/T:1").time, Verdict::newly_failing);
  EXPECT_EQ(c.regressions, 1);
}

// The shards of a night are separate jobs, possibly on different machines: a same-shape control
// measured in another shard's job does not cancel this job's machine, so the GEMM rate of the
// benchmark's own file is used instead.
TEST(PerfControls, ASameShapeControlCountsOnlyFromTheSameJob) {
  json shard1 = test::bench_doc("c"), shard2 = test::bench_doc("c");
  shard1["context"]["shard"] = "1/2";
  shard2["context"]["shard"] = "2/2";
  const std::string sfx = "/llama3-8b/L:4096/T:7";
  test::add_repetitions(shard1, "train_step/flash" + sfx, reps(15, 0.5), {{"gemm_TFLOPS", 800}});
  test::add_repetitions(shard1, "train_step/floor-sdpa/llama3-8b/L:16384/T:7", reps(100, 0.5), {{"gemm_TFLOPS", 800}});
  test::add_repetitions(shard1, "train_step/flash/llama3-8b/L:16384/T:7", reps(120, 0.5), {{"gemm_TFLOPS", 800}});
  test::add_repetitions(shard2, "train_step/floor-sdpa" + sfx, reps(8, 0.5), {{"gemm_TFLOPS", 780}});
  PerfRun run;
  add_benchmark_json(run, shard1, "attn_bench.shard-1-of-2.json");
  add_benchmark_json(run, shard2, "attn_bench.shard-2-of-2.json");
  EXPECT_EQ(run.job_of(*run.find("train_step", "flash", "llama3-8b", 4096, 7)), "1/2");
  const ControlledTime across = controlled_time(run, *run.find("train_step", "flash", "llama3-8b", 4096, 7));
  EXPECT_EQ(across.control, "gemm");
  EXPECT_NEAR(across.value, 15.0 * 800, 1e-9);
  const ControlledTime within = controlled_time(run, *run.find("train_step", "flash", "llama3-8b", 16384, 7));
  EXPECT_EQ(within.control, "floor-sdpa");
  EXPECT_NEAR(within.value, 1.2, 1e-12);
}

TEST(PerfControls, ASlowerMachineFlagsNothingThroughTheControls) {
  // The same code on a machine 12 % slower: every raw time is 12 % longer.
  const PerfRun before = run_of(night(1.0, 1.0)), after = run_of(night(1.12, 1.0));
  const PerfComparison raw = compare_runs(before, after, CompareRule{2.0, 0.01, 0.01, false});
  EXPECT_EQ(raw.regressions, 6);  // raw times: all six flagged
  const PerfComparison c = compare_runs(before, after);
  EXPECT_EQ(c.regressions, 0);
  for (const auto& ch : c.changes) {
    EXPECT_FALSE(ch.control.empty()) << ch.key.name();
    EXPECT_NEAR(ch.change_pct, 12, 1e-9) << ch.key.name();
    // floor-sdpa is judged by the GEMM rate, which the slower machine also lowers by 12 %.
    EXPECT_NEAR(ch.controlled_change_pct, 0, 1e-9) << ch.key.name();
    EXPECT_EQ(ch.time, Verdict::within_noise) << ch.key.name();
  }
}

TEST(PerfControls, ARealSlowdownIsFlaggedWithItsSizeOnAnotherMachine) {
  // flash 20 % slower in the new code, measured on a machine 8 % faster.
  const PerfRun before = run_of(night(1.0, 1.0)), after = run_of(night(1 / 1.08, 1.2));
  const PerfComparison c = compare_runs(before, after);
  EXPECT_EQ(c.regressions, 2);
  const PerfChange& f = change_of(c, "train_step/flash/llama3-8b/L:4096/T:7");
  EXPECT_EQ(f.time, Verdict::regression);
  EXPECT_NEAR(f.controlled_change_pct, 20, 1e-9);
  EXPECT_NEAR(f.change_pct, 100 * (1.2 / 1.08 - 1), 1e-9);  // the raw change understates it
  EXPECT_EQ(f.noise_source, "within run");
  EXPECT_EQ(change_of(c, "train_step/floor/llama3-8b/L:4096/T:7").time, Verdict::within_noise);
}

TEST(PerfControls, ControlMeasuredInOneRunOnlyFallsBackToTheGemmRateForBoth) {
  // The old night measured floor-sdpa, the new one did not (a grid without it), on a machine
  // 10 % slower whose GEMM rate is 10 % lower too: both are judged by the GEMM rate.
  const PerfRun before = run_of(night(1.0, 1.0));
  nlohmann::json later = night(1.1, 1.0);
  auto& b = later["benchmarks"];
  b.erase(std::remove_if(b.begin(), b.end(),
                         [](const nlohmann::json& e) {
                           return e["name"].get<std::string>().rfind("train_step/floor-sdpa/", 0) == 0;
                         }),
          b.end());
  const PerfComparison c = compare_runs(before, run_of(later));
  const PerfChange& f = change_of(c, "train_step/flash/llama3-8b/L:4096/T:7");
  EXPECT_EQ(f.control, "gemm");
  EXPECT_NEAR(f.change_pct, 10, 1e-9);
  EXPECT_NEAR(f.controlled_change_pct, 0, 1e-9);
  EXPECT_EQ(c.regressions, 0);
  // The noise between such runs is measured per control: by floor-sdpa over the two nights that
  // measured it, by the GEMM rate over all three (the third night's flash is 6 % slower).
  const PerfRun third = run_of(night(0.9, 1.06));
  const PerfRun second = run_of(later);
  const CrossRunNoise n = measure_cross_run_noise({&before, &second, &third}, {{"a"}, {"b"}, {"c"}});
  ASSERT_NE(n.of("floor-sdpa"), nullptr);
  ASSERT_NE(n.of("gemm"), nullptr);
  const std::string flash = "train_step/flash/llama3-8b/L:4096/T:7";
  EXPECT_NEAR(n.of("floor-sdpa")->sigma_raw.at(flash), sample_stddev({0.0, std::log(1.06)}), 1e-9);
  EXPECT_NEAR(n.of("gemm")->sigma_raw.at(flash), sample_stddev({0.0, 0.0, std::log(1.06)}), 1e-9);
  EXPECT_EQ(n.of("floor-sdpa")->sigma_raw.count("train_step/floor-sdpa/llama3-8b/L:4096/T:7"), 0u);
  EXPECT_NEAR(n.of("gemm")->sigma_raw.at("train_step/floor-sdpa/llama3-8b/L:4096/T:7"), 0, 1e-9);
  // A comparison by floor-sdpa uses floor-sdpa's noise.
  CompareRule with_noise;
  with_noise.noise = &n;
  const PerfChange& f3 = change_of(compare_runs(before, third, with_noise), flash);
  EXPECT_EQ(f3.control, "floor-sdpa");
  EXPECT_NEAR(f3.sigma, std::sqrt(2.0) * n.of("floor-sdpa")->sigma.at(flash), 1e-12);
}

TEST(PerfNoise, MeasuredBetweenRunsAndUsedByTheRule) {
  // Three nights of the same code on machines of different speed, each benchmark's controlled
  // time jittering by about 3 % between nights (more than the 0.5 % within a run).
  std::vector<PerfRun> nights;
  const double jitter[3] = {1.0, 1.03, 0.97};
  for (int i = 0; i < 3; ++i) nights.push_back(run_of(night(1.0 + 0.05 * i, jitter[i])));
  const CrossRunNoise noise = measure_cross_run_noise({&nights[0], &nights[1], &nights[2]}, {{"a"}, {"b"}, {"c"}});
  ASSERT_NE(noise.of("floor-sdpa"), nullptr);
  const ControlNoise& n = *noise.of("floor-sdpa");
  const std::string flash_key = "train_step/flash/llama3-8b/L:4096/T:7";
  const double raw = sample_stddev({0.0, std::log(1.03), std::log(0.97)});
  EXPECT_NEAR(n.sigma_raw.at(flash_key), raw, 1e-9);
  EXPECT_NEAR(n.sigma_raw.at("train_step/floor/llama3-8b/L:4096/T:7"), 0, 1e-9);
  // Moderated towards the pooled variance of the benchmarks of the same L (every benchmark has
  // 2 degrees of freedom here, and only the flash ones vary): sigma^2 = (d0 s_p^2 + 2 s^2) / (d0 + 2).
  double ss = 0;
  int count = 0;
  for (const auto& [k, s] : n.sigma_raw)
    if (k.find("/L:4096/") != std::string::npos) {
      ss += s * s;
      ++count;
    }
  ASSERT_EQ(count, 2);  // flash and floor (floor-sdpa itself is controlled by the GEMM rate)
  const double pooled = ss / double(count);
  ASSERT_EQ(n.pooled_sigma_by_L.size(), 2u);
  EXPECT_NEAR(n.pooled_sigma_by_L.at(4096), std::sqrt(pooled), 1e-12);
  const double flash_sigma = n.sigma.at(flash_key);
  EXPECT_NEAR(flash_sigma, std::sqrt((kNoisePriorDof * pooled + 2 * raw * raw) / (kNoisePriorDof + 2)), 1e-12);
  EXPECT_LT(flash_sigma, raw);  // pulled down towards the quiet benchmarks
  const double floor_sigma = n.sigma.at("train_step/floor/llama3-8b/L:4096/T:7");
  EXPECT_NEAR(floor_sigma, std::sqrt(kNoisePriorDof * pooled / (kNoisePriorDof + 2)), 1e-12);
  EXPECT_GT(floor_sigma, 0);    // and a benchmark that happened not to vary is not taken as noiseless
  // Without its own sigma a benchmark takes its L's pool, and at an L not pooled the default.
  BenchKey other;
  parse_bench_name("fwd/flash/llama3-8b/L:4096/T:7", other);
  EXPECT_EQ(n.sigma_for(other), n.pooled_sigma_by_L.at(4096));
  parse_bench_name("fwd/flash/llama3-8b/L:2048/T:7", other);
  EXPECT_EQ(n.sigma_for(other), n.default_sigma);
  // What a comparison takes: own, the pool of L, for floor-sdpa the GEMM pool of L, the default.
  using Sigma = std::pair<double, std::string>;
  EXPECT_EQ(noise.sigma_for("floor-sdpa", nights[0].find("train_step", "flash", "llama3-8b", 4096, 7)->key),
            (Sigma{flash_sigma, "own"}));
  parse_bench_name("fwd/flash/llama3-8b/L:4096/T:7", other);
  EXPECT_EQ(noise.sigma_for("floor-sdpa", other), (Sigma{n.pooled_sigma_by_L.at(4096), "pool of L"}));
  CrossRunNoise sparse = noise;
  sparse.controls["floor-sdpa"].pooled_sigma_by_L.erase(4096);
  sparse.controls["floor-sdpa"].sigma.clear();
  EXPECT_EQ(sparse.sigma_for("floor-sdpa", other), (Sigma{noise.of("gemm")->pooled_sigma_by_L.at(4096), "GEMM pool of L"}));
  parse_bench_name("fwd/flash/llama3-8b/L:2048/T:7", other);
  EXPECT_EQ(sparse.sigma_for("floor-sdpa", other), (Sigma{n.default_sigma, "default"}));
  EXPECT_EQ(sparse.sigma_for("gemm", other), (Sigma{noise.of("gemm")->default_sigma, "default"}));
  sparse.controls.erase("gemm");
  EXPECT_TRUE(std::isnan(sparse.sigma_for("gemm", other).first));
  EXPECT_EQ(noise.runs.size(), 3u);
  // A 4 % change: a regression against the within-run noise, within the noise between runs.
  const PerfRun before = run_of(night(1.0, 1.0)), after = run_of(night(1.0, 1.04));
  EXPECT_EQ(change_of(compare_runs(before, after), "train_step/flash/llama3-8b/L:4096/T:7").time,
            Verdict::regression);
  CompareRule with_noise;
  with_noise.noise = &noise;
  const PerfChange& f = change_of(compare_runs(before, after, with_noise), "train_step/flash/llama3-8b/L:4096/T:7");
  EXPECT_EQ(f.time, Verdict::within_noise);
  EXPECT_EQ(f.noise_source, "between runs");
  EXPECT_NEAR(f.sigma, std::sqrt(2.0) * flash_sigma, 1e-12);  // the change is the difference of two runs
  // A 15 % change exceeds it.
  const PerfRun slower = run_of(night(1.0, 1.15));
  EXPECT_EQ(change_of(compare_runs(before, slower, with_noise), "train_step/flash/llama3-8b/L:4096/T:7").time,
            Verdict::regression);
  // Round trip through the file, and its errors.
  const std::string path = test::write_temp("noise", noise_json(noise));
  const CrossRunNoise back = load_cross_run_noise(path);
  ASSERT_EQ(back.controls.size(), noise.controls.size());
  for (const auto& [control, c] : noise.controls) {
    ASSERT_NE(back.of(control), nullptr) << control;
    EXPECT_EQ(back.of(control)->sigma, c.sigma);
    EXPECT_EQ(back.of(control)->sigma_raw, c.sigma_raw);
    EXPECT_EQ(back.of(control)->pooled_sigma_by_L, c.pooled_sigma_by_L);
    EXPECT_EQ(back.of(control)->default_sigma, c.default_sigma);
  }
  EXPECT_THROW(load_cross_run_noise(test::write_temp("bad", {{"schema", "x"}})), data::InputError);
  nlohmann::json old_schema = noise_json(noise);
  old_schema["schema"] = "attn-harness.perf-noise/1";
  EXPECT_NE(test::input_error([&] { load_cross_run_noise(test::write_temp("old", old_schema)); })
                .find("run perf-noise again"),
            std::string::npos);
  nlohmann::json odd_control = noise_json(noise);
  odd_control["controls"]["floor"] = odd_control["controls"]["floor-sdpa"];
  EXPECT_NE(test::input_error([&] { load_cross_run_noise(test::write_temp("odd", odd_control)); })
                .find("controls.floor: expected the control floor-sdpa or gemm"),
            std::string::npos);
  EXPECT_THROW(load_cross_run_noise(test::write_temp_text("bad2", "{")), data::InputError);
  EXPECT_THROW(measure_cross_run_noise({&nights[0]}, {{"a"}}), data::InputError);
}

}  // namespace
}  // namespace attn::report

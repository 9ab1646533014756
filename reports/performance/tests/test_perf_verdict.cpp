// The verdict lines: factors computed from synthetic repetitions (ratio of medians, noise of
// the ratio from both relative stddevs), the fastest floor per L, the chosen L, failures, and
// the compact headline table.
#include <gtest/gtest.h>

#include <cmath>

#include "reports/performance/perf_verdict.hpp"
#include "reports/performance/tests/perf_test_data.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using test::add_failure;
using test::add_repetitions;
using test::bench_doc;

std::string name(const std::string& backend, std::int64_t L, const std::string& preset = "p", std::int64_t T = 7) {
  return "train_step/" + backend + "/" + preset + "/L:" + std::to_string(L) + "/T:" + std::to_string(T);
}

// Medians and stddevs by construction: {m - d, m, m + d} has median m and stddev d.
void add(json& doc, const std::string& backend, std::int64_t L, double m, double d) {
  add_repetitions(doc, name(backend, L), {m - d, m, m + d}, {{"peak_mem_GiB", 0.5}});
}

PerfRun verdict_run() {
  json doc = bench_doc();
  add(doc, "flash", 4096, 21, 1);
  add(doc, "floor", 4096, 15, 1);
  add(doc, "floor-sdpa", 4096, 10.5, 0.5);  // the fastest floor at 4K
  add(doc, "flex", 4096, 42, 2);
  add(doc, "sdpa", 4096, 101, 1);
  add(doc, "flash", 16384, 121, 1);
  add(doc, "floor", 16384, 112, 1);
  add(doc, "floor-sdpa", 16384, 100, 1);    // ... and at 16K
  add(doc, "flex", 16384, 242, 2);
  add_failure(doc, name("sdpa", 16384), "OOM: CUDA out of memory. Tried to allocate 32.00 GiB", 3);
  PerfRun run;
  add_benchmark_json(run, doc, "verdict.json");
  return run;
}

TEST(PerfVerdict, FactorsAndTheirNoiseComeFromTheRepetitions) {
  const PerfRun run = verdict_run();
  const std::vector<PresetVerdict> v = preset_verdicts(run);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].preset, "p");
  EXPECT_EQ(v[0].T, 7);
  EXPECT_EQ(v[0].lead, "flash");
  ASSERT_EQ(v[0].lead_vs_floor.size(), 2u);  // the largest L, then the smallest
  const VerdictFactor& big = v[0].lead_vs_floor[0];
  EXPECT_EQ(big.L, 16384);
  EXPECT_EQ(big.over, "floor-sdpa");
  EXPECT_DOUBLE_EQ(big.ratio, 121.0 / 100.0);
  EXPECT_NEAR(big.rel_noise, std::hypot(1.0 / 121, 1.0 / 100), 1e-12);
  const VerdictFactor& small = v[0].lead_vs_floor[1];
  EXPECT_EQ(small.L, 4096);
  EXPECT_DOUBLE_EQ(small.ratio, 2.0);
  EXPECT_NEAR(small.rel_noise, std::hypot(1.0 / 21, 0.5 / 10.5), 1e-12);

  ASSERT_EQ(v[0].others.size(), 2u);  // report order: sdpa, flex
  EXPECT_EQ(v[0].others[0].backend, "sdpa");
  ASSERT_EQ(v[0].others[0].factors.size(), 1u);
  EXPECT_EQ(v[0].others[0].factors[0].L, 4096);  // the largest L where sdpa and flash both ran
  EXPECT_DOUBLE_EQ(v[0].others[0].factors[0].ratio, 101.0 / 21);
  EXPECT_EQ(v[0].others[0].failures, "OOM at L ≥ 16K");
  EXPECT_EQ(v[0].others[1].backend, "flex");
  EXPECT_EQ(v[0].others[1].factors[0].L, 16384);
  EXPECT_DOUBLE_EQ(v[0].others[1].factors[0].ratio, 2.0);
  EXPECT_EQ(v[0].others[1].failures, "");
}

TEST(PerfVerdict, SentencesNameTheFactorsTheFloorAndTheLengths) {
  const std::vector<std::string> s = verdict_sentences(preset_verdicts(verdict_run())[0]);
  ASSERT_EQ(s.size(), 2u);
  // 121/100 ± hypot(1/121, 1/100) = 1.30 %; 21/10.5 ± hypot(1/21, 0.5/10.5) = 6.73 %.
  EXPECT_EQ(s[0], "p, training step at T 7: flash 1.21× floor-sdpa (±1.3 %) at 16K, 2.00× (±6.7 %) at 4K.");
  // 101/21 = 4.81 ± hypot(1/101, 1/21) = 4.86 %; 242/121 ± hypot(2/242, 1/121) = 1.17 %.
  EXPECT_EQ(s[1], "sdpa 4.81× flash (±4.9 %) at 4K, OOM at L ≥ 16K; flex 2.00× flash (±1.2 %) at 16K.");
}

TEST(PerfVerdict, TheFastestFloorIsChosenPerLengthAndNamed) {
  json doc = bench_doc();
  add(doc, "flash", 1024, 6, 0.1);
  add(doc, "floor", 1024, 3, 0.1);       // fastest at 1K
  add(doc, "floor-sdpa", 1024, 4, 0.1);
  add(doc, "flash", 8192, 60, 0.1);
  add(doc, "floor", 8192, 55, 0.1);
  add(doc, "floor-sdpa", 8192, 50, 0.1);  // fastest at 8K
  PerfRun run;
  add_benchmark_json(run, doc, "floors.json");
  EXPECT_EQ(fastest_floor(run, "p", 1024, 7)->key.backend, "floor");
  EXPECT_EQ(fastest_floor(run, "p", 8192, 7)->key.backend, "floor-sdpa");
  EXPECT_EQ(fastest_floor(run, "p", 2048, 7), nullptr);
  const std::vector<std::string> s = verdict_sentences(preset_verdicts(run)[0]);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_NE(s[0].find("flash 1.20× floor-sdpa (±0.3 %) at 8K, 2.00× floor (±3.7 %) at 1K."), std::string::npos) << s[0];
}

TEST(PerfVerdict, OneRepetitionMeansNoiseUnknownAndOnlyFloorsIsSaid) {
  json doc = bench_doc();
  add_repetitions(doc, name("flash", 4096), {20});
  add_repetitions(doc, name("floor", 4096), {10});
  add_repetitions(doc, name("floor-fa2", 4096, "q"), {10});
  PerfRun run;
  add_benchmark_json(run, doc, "one.json");
  const std::vector<PresetVerdict> v = preset_verdicts(run);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(std::isnan(v[0].lead_vs_floor[0].rel_noise));
  EXPECT_EQ(verdict_sentences(v[0])[0],
            "p, training step at T 7: flash 2.00× floor (noise unknown) at 4K (the only L where both ran).");
  EXPECT_EQ(verdict_sentences(v[1])[0], "q, training step at T 7: only floors ran.");
}

TEST(PerfVerdict, CompactTableHasOneRowPerPresetAndVerdictLength) {
  const PerfRun run = verdict_run();
  const PerfTable t = verdict_table(run, preset_verdicts(run));
  EXPECT_EQ(t.header, (std::vector<std::string>{"preset", "T", "L", "flash ms", "fastest floor ms", "flash / floor",
                                                "sdpa / flash", "flex / flash", "flash GiB"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][2].text, "16K");
  EXPECT_EQ(t.rows[0][4].text, "100.0 (floor-sdpa)");
  EXPECT_EQ(t.rows[0][5].text, "1.21× ±1.3 %");
  EXPECT_EQ(t.rows[0][6].text, "OOM");
  EXPECT_EQ(t.rows[0][6].tone, CellTone::bad);
  EXPECT_EQ(t.rows[0][7].text, "2.00× ±1.2 %");
  EXPECT_EQ(t.rows[1][2].text, "4K");
  EXPECT_EQ(t.rows[1][6].text, "4.81× ±4.9 %");
}

}  // namespace
}  // namespace attn::report

// The harness's own speed: time-to-verdict JSON read (schemas 1 and 2, errors naming expected
// vs found), the 20 % rule with the repetitions' ranges, the table, and the report around it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "datasets/errors.hpp"
#include "reports/performance/perf_harness_timing.hpp"
#include "reports/performance/perf_report.hpp"
#include "reports/performance/tests/perf_test_data.hpp"

namespace attn::report {
namespace {

using nlohmann::json;

using test::input_error;

TEST(HarnessTiming, TheRuleNeedsTwentyPercentAndRangesApart) {
  // +35 %, ranges apart: slower. +25 %, ranges overlap: not flagged. -30 %: faster.
  EXPECT_EQ(judge_step_time({40, 40.7, 41.5}, {54, 55, 56.5}), TimingVerdict::slower);
  EXPECT_EQ(judge_step_time({9, 10, 13}, {10, 12.5, 15}), TimingVerdict::same);
  EXPECT_EQ(judge_step_time({4, 4, 4.2}, {2.8, 2.8, 2.9}), TimingVerdict::faster);
  // +15 % with ranges apart: below the 20 % floor.
  EXPECT_EQ(judge_step_time({10, 10, 10}, {11.5, 11.5, 11.5}), TimingVerdict::same);
  // Without repetitions the 20 % alone decides.
  EXPECT_EQ(judge_step_time({10}, {12.1}), TimingVerdict::slower);
  EXPECT_EQ(judge_step_time({10}, {11.9}), TimingVerdict::same);
  EXPECT_EQ(judge_step_time({}, {11.9}), TimingVerdict::not_compared);
}

TEST(HarnessTiming, SampleNightsFlagTheSlowerReferenceAndTheLargerGenerate) {
  const HarnessTiming now = load_harness_timing(test::sample("sample_time_to_verdict.json"), "now.json");
  const HarnessTiming before = load_harness_timing(test::sample("sample_time_to_verdict_previous.json"), "old.json");
  EXPECT_EQ(now.schema, 2);
  EXPECT_EQ(now.repeat, 3);
  EXPECT_EQ(now.case_label(), "llama3-8b, L 4096, B 2, t 6, pad 0,512, cuda: sdpa,flash");
  EXPECT_EQ(now.machine_label(), "AMD EPYC 9654 96-Core Processor (16 cores, x86_64), NVIDIA H100 80GB HBM3");
  ASSERT_EQ(now.steps.size(), 4u);
  EXPECT_EQ(now.steps[1].samples, (std::vector<double>{54.0, 55.0, 56.5}));
  EXPECT_EQ(harness_mismatch(before, now), "");
  const std::vector<TimingChange> c = compare_harness(before, now);
  ASSERT_EQ(c.size(), 5u);  // four steps and the total
  EXPECT_EQ(c[0].step, "generate");
  EXPECT_EQ(c[0].time, TimingVerdict::same);
  EXPECT_EQ(c[0].memory, TimingVerdict::slower);  // 1.0 -> 1.5 GiB
  EXPECT_EQ(c[1].time, TimingVerdict::slower);    // reference 40.7 -> 55.0 s
  EXPECT_NEAR(c[1].change_pct, 100 * (55.0 / 40.7 - 1), 1e-9);
  EXPECT_EQ(c[2].time, TimingVerdict::same);      // run +25 %, ranges overlap
  EXPECT_EQ(c[3].time, TimingVerdict::faster);    // gate
  EXPECT_EQ(c[4].step, "total");
  EXPECT_EQ(harness_regressions(before, now), 2);

  const PerfTable t = harness_timing_table(now, &before);
  EXPECT_EQ(t.header, (std::vector<std::string>{"step", "seconds", "range s", "peak GiB", "previous s", "change",
                                                "time", "previous GiB", "memory"}));
  EXPECT_EQ(t.rows[1][0].text, "reference");
  EXPECT_EQ(t.rows[1][1].text, "55.0");
  EXPECT_EQ(t.rows[1][2].text, "54.0–56.5");
  EXPECT_EQ(t.rows[1][5].text, "+35.1 %");
  EXPECT_EQ(t.rows[1][6].text, "slower");
  EXPECT_EQ(t.rows[1][6].tone, CellTone::bad);
  EXPECT_EQ(t.rows[0][8].text, "slower");  // generate's memory
  EXPECT_NE(t.note.find("2026-11-24 02:40 UTC"), std::string::npos) << t.note;
  EXPECT_NE(t.note.find("median of 3 repetitions"), std::string::npos);
}

TEST(HarnessTiming, AnotherMachineIsNotCompared) {
  const HarnessTiming now = load_harness_timing(test::sample("sample_time_to_verdict.json"), "now.json");
  HarnessTiming other = load_harness_timing(test::sample("sample_time_to_verdict_previous.json"), "old.json");
  other.gpu = "NVIDIA H200";
  EXPECT_EQ(harness_mismatch(other, now).rfind("another machine", 0), 0u);
  for (const auto& c : compare_harness(other, now)) EXPECT_EQ(c.time, TimingVerdict::not_compared) << c.step;
  EXPECT_EQ(harness_regressions(other, now), 0);
}

TEST(HarnessTiming, SchemaOneAndBadFilesNameExpectedAndFound) {
  const json v1 = {{"schema", "attn-harness.time-to-verdict/1"},
                   {"case", {{"preset", "llama3-8b"}, {"L", 512}, {"B", 1}, {"t", 2}, {"device", "cpu"}}},
                   {"steps", {{{"name", "generate"}, {"seconds", 1.5}, {"max_rss_bytes", 1 << 30}, {"exit_code", 0}}}},
                   {"total_seconds", 1.5},
                   {"host", {{"cpu", "x"}, {"cores", 2}}}};
  const HarnessTiming h = load_harness_timing(test::write_temp("v1", v1), "v1.json");
  EXPECT_EQ(h.schema, 1);
  EXPECT_EQ(h.steps[0].samples, (std::vector<double>{1.5}));
  EXPECT_DOUBLE_EQ(h.steps[0].max_rss_gib, 1.0);
  EXPECT_TRUE(is_harness_timing_file(test::write_temp("v1b", v1)));
  EXPECT_FALSE(is_harness_timing_file(test::sample("sample_bench.json")));

  json wrong = v1;
  wrong["schema"] = "attn-harness.time-to-verdict/9";
  EXPECT_NE(input_error([&] { load_harness_timing(test::write_temp("v9", wrong), "x"); })
                .find("expected schema \"attn-harness.time-to-verdict/1\" or \"attn-harness.time-to-verdict/2\" "
                      "(scripts/time_to_verdict.py --json), found \"attn-harness.time-to-verdict/9\""),
            std::string::npos);
  json no_seconds = v1;
  no_seconds["steps"][0].erase("seconds");
  EXPECT_NE(input_error([&] { load_harness_timing(test::write_temp("nos", no_seconds), "x"); })
                .find("steps[0]: expected \"seconds\" as a number, found nothing"),
            std::string::npos);
  json bad_samples = v1;
  bad_samples["steps"][0]["samples"] = "fast";
  EXPECT_NE(input_error([&] { load_harness_timing(test::write_temp("bs", bad_samples), "x"); })
                .find("expected \"samples\" as an array of seconds, found string"),
            std::string::npos);
  EXPECT_NE(input_error([&] { load_harness_timing(test::sample("sample_bench.json"), "x"); })
                .find("expected \"schema\" as a string, found nothing"),
            std::string::npos);
}

TEST(HarnessTiming, TheReportShowsItAndTakesThePreviousFromPrevious) {
  PerfReportOptions o;
  o.inputs = {test::sample("sample_bench.json")};
  o.previous = {test::sample("sample_bench_previous.json"), test::sample("sample_time_to_verdict_previous.json")};
  o.harness_timing = {test::sample("sample_time_to_verdict.json")};
  o.out_dir = test::temp_dir("out");
  o.charts = false;
  std::ostringstream log;
  const PerfReportOutcome r = write_perf_report(o, log);
  ASSERT_EQ(r.harness.size(), 1u);
  ASSERT_TRUE(r.harness[0].before.has_value());
  EXPECT_EQ(r.harness_regressions, 2);
  EXPECT_EQ(r.previous->sources.size(), 1u);  // the time-to-verdict file is not benchmark JSON
  std::ifstream in(r.markdown);
  std::stringstream md;
  md << in.rdbuf();
  EXPECT_NE(md.str().find("## The harness's own speed"), std::string::npos);
  EXPECT_NE(md.str().find("| reference | 55.0 | 54.0–56.5 | 6.20 | 40.7 | +35.1 % | **slower** |"), std::string::npos)
      << md.str();
  // Only a time-to-verdict file as --previous is not a previous run.
  o.previous = {test::sample("sample_time_to_verdict_previous.json")};
  EXPECT_NE(input_error([&] { write_perf_report(o, log); }).find("found only time-to-verdict files"), std::string::npos);
}

}  // namespace
}  // namespace attn::report

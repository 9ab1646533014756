#include "reports/performance/tests/perf_test_data.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace attn::report::test {

using nlohmann::json;

namespace {
std::filesystem::path temp_root() {
  return std::filesystem::temp_directory_path() / ("attn_perf_" + std::to_string(::getpid()));
}
// Removes this process's temporary files after the last test.
class TempCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(temp_root(), ignored);
  }
};
[[maybe_unused]] ::testing::Environment* const kCleanup = ::testing::AddGlobalTestEnvironment(new TempCleanup);
}  // namespace

json bench_doc(const std::string& commit) {
  return {{"context",
           {{"date", "2026-11-24T02:00:00+00:00"}, {"host_name", "test"}, {"executable", "./attn-bench"},
            {"num_cpus", 16}, {"library_build_type", "release"}, {"device", "NVIDIA H100 80GB HBM3"},
            {"torch_version", "2.11.0"}, {"gemm_bf16_tflops", 660.0}, {"commit", commit}}},
          {"benchmarks", json::array()}};
}

void add_repetitions(json& doc, const std::string& name, const std::vector<double>& ms, const json& counters,
                     bool aggregates) {
  const std::string run_name = name + "/manual_time";
  for (std::size_t i = 0; i < ms.size(); ++i) {
    json e = {{"name", run_name},       {"run_name", run_name}, {"run_type", "iteration"},
              {"repetitions", ms.size()}, {"repetition_index", i}, {"threads", 1},
              {"iterations", 5},        {"real_time", ms[i]},   {"cpu_time", ms[i] / 50},
              {"time_unit", "ms"}};
    e.update(counters);
    doc["benchmarks"].push_back(e);
  }
  if (!aggregates || ms.size() < 2) return;
  std::vector<double> s = ms;
  std::sort(s.begin(), s.end());
  const double n = double(s.size());
  double mean = 0;
  for (double x : s) mean += x / n;
  double ss = 0;
  for (double x : s) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / (n - 1));
  const double med = s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
  for (const auto& [agg, v] : std::vector<std::pair<std::string, double>>{
           {"mean", mean}, {"median", med}, {"stddev", sd}, {"cv", sd / mean}}) {
    json e = {{"name", run_name + "_" + agg}, {"run_name", run_name}, {"run_type", "aggregate"},
              {"repetitions", ms.size()}, {"threads", 1}, {"aggregate_name", agg},
              {"aggregate_unit", agg == "cv" ? "percentage" : "time"}, {"iterations", ms.size()},
              {"real_time", v}, {"cpu_time", v / 50}, {"time_unit", "ms"}};
    if (agg == "mean" || agg == "median") e.update(counters);
    doc["benchmarks"].push_back(e);
  }
}

void add_failure(json& doc, const std::string& name, const std::string& message, int reps) {
  for (int i = 0; i < reps; ++i)
    doc["benchmarks"].push_back({{"name", name + "/manual_time"}, {"run_name", name + "/manual_time"},
                                 {"run_type", "iteration"}, {"repetitions", reps}, {"repetition_index", i},
                                 {"threads", 1}, {"error_occurred", true}, {"error_message", message},
                                 {"iterations", 0}, {"real_time", 0.0}, {"cpu_time", 0.0}, {"time_unit", "ns"}});
}

std::string temp_dir(const std::string& stem) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::filesystem::path dir = temp_root() / (std::string(info->test_suite_name()) + "." + info->name()) / stem;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string write_temp_text(const std::string& stem, const std::string& text) {
  const std::string path = temp_dir("files_" + stem) + "/" + stem + ".json";
  std::ofstream(path) << text;
  return path;
}

std::string write_temp(const std::string& stem, const json& doc) { return write_temp_text(stem, doc.dump(1)); }

std::string sample(const std::string& file) { return std::string(ATTN_PERF_SAMPLE_DIR) + "/" + file; }

}  // namespace attn::report::test

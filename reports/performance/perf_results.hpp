// Benchmark results read from Google Benchmark JSON files (the bench runner's and the flex
// adapter's output), one PerfResult per benchmark `<workload>/<backend>/<preset>/L:<L>/T:<T>`.
// The statistics rule is in docs/benchmarks.md, "Performance reports".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace attn::report {

/// What identifies a benchmark across runs. Names that do not follow the scheme keep their
/// full name (suffixes stripped) in `workload` and have no backend; they appear in tables only.
struct BenchKey {
  std::string workload, backend, preset;
  std::int64_t L = 0, T = 0;
  std::string name() const;  ///< "train_step/flash/llama3-8b/L:4096/T:7"
  bool structured() const { return !backend.empty(); }
};

/// Known workloads and backends first, in the order the report shows them.
bool operator<(const BenchKey& a, const BenchKey& b);
bool operator==(const BenchKey& a, const BenchKey& b);

/// not_run: the runner skipped it for its own time budget (a message starting "skipped:", as
/// flex_adapter.py writes when --budget-s runs out): a gap in the grid, not a result.
enum class RunStatus { ok, oom, unsupported, error, not_run };
const char* status_name(RunStatus s);  ///< "ok", "OOM", "unsupported", "error", "not run"
inline constexpr int kRunStatusCount = 5;

struct PerfResult {
  BenchKey key;
  std::string source;                  ///< file it came from
  RunStatus status = RunStatus::ok;
  std::string message;                 ///< error or skip message when status != ok
  // Step time in ms (real_time: manual CUDA-event time). NaN where unknown.
  double median_ms = 0, mean_ms = 0, stddev_ms = 0, min_ms = 0, max_ms = 0;
  int repetitions = 0;                 ///< successful per-repetition entries (0: aggregates only)
  bool noise_measured = false;         ///< stddev from >= 2 repetitions (aggregate or computed)
  std::vector<double> samples_ms;      ///< per-repetition real_time
  // Counters (NaN where absent): median over repetitions, except peak memory and compile time
  // (largest over repetitions) and their spread (max - min) for the memory noise.
  double tflops = 0, gemm_tflops = 0, pct_of_gemm = 0, peak_mem_gib = 0, peak_mem_spread_gib = 0,
         compile_s = 0;
  double B = 0, H = 0, Hkv = 0, D = 0;
  bool ok() const { return status == RunStatus::ok; }
};

/// The `context` of one input file, with the custom keys the bench runner adds.
struct PerfSource {
  std::string path, date, host_name, executable, device, torch_version, commit, build_type;
  std::string shard;            ///< "i/n" of a sharded run (context "shard"), else empty
  double gemm_bf16_tflops = 0;  ///< a number or a numeric string in the context; NaN when absent
  int benchmarks = 0;           ///< benchmarks taken from this file
};

struct PerfRun {
  std::vector<PerfSource> sources;
  std::map<BenchKey, PerfResult> results;
  std::vector<std::string> presets;    ///< in order of first appearance
  std::vector<std::string> warnings;   ///< duplicates, unparseable names, odd entries
  const PerfResult* find(const BenchKey& k) const;
  /// The same lookup by the parts of a benchmark name; nullptr when absent.
  const PerfResult* find(const std::string& workload, const std::string& backend,
                         const std::string& preset, std::int64_t L, std::int64_t T) const;
  /// The job a result was measured in: the shard ("i/n") of its file, "" for an unsharded file.
  /// Results of one job ran on one machine in one session (a sharded night runs shard i of
  /// attn-bench and of flex in job i); results of different jobs may not have.
  std::string job_of(const PerfResult& r) const;
};

/// Splits a Google Benchmark name into its key: the first three '/'-tokens are workload,
/// backend and preset; "L:<n>" and "T:<n>" anywhere; other tokens ("manual_time",
/// "repeats:5", "iterations:3", numbers) are ignored. Returns false when it does not fit.
bool parse_bench_name(const std::string& name, BenchKey& key);

/// Adds the benchmarks of one parsed Google Benchmark document to `run`. `source` names the
/// file in errors and tables. Throws data::InputError naming `source` and what is missing when
/// the document is not Google Benchmark JSON. A benchmark already in `run` is replaced (warning).
void add_benchmark_json(PerfRun& run, const nlohmann::json& doc, const std::string& source);

/// Reads and merges files in order. Throws data::InputError for a missing or unreadable file,
/// invalid JSON or a document that is not Google Benchmark JSON.
PerfRun load_perf_results(const std::vector<std::string>& paths);

/// Median of values (NaN for none).
double median_of(std::vector<double> values);
/// Sample standard deviation (n - 1); NaN for fewer than two values.
double sample_stddev(const std::vector<double>& values);

}  // namespace attn::report

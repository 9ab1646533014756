// The noise of controlled step times between runs: measured from several runs of the same
// commit (on different nights or machines), it is what a cross-night change must exceed.
//
//   {"schema": "attn-harness.perf-noise/1",
//    "runs": [{"files": [...], "device": "...", "date": "...", "commit": "..."}, ...],
//    "sigma": {"train_step/flash/llama3-8b/L:4096/T:7": 0.012, ...},   // stddev of ln(controlled time)
//    "default_sigma": 0.02}                                          // for benchmarks without their own
//
// sigma is the sample standard deviation over the runs of ln(controlled time)
// (perf_controls.hpp), per benchmark measured in at least two runs; default_sigma is the 90th
// percentile of those, for benchmarks the noise runs did not measure.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/performance/perf_results.hpp"

namespace attn::report {

struct CrossRunNoise {
  std::string source;                    ///< file it was read from ("" when measured here)
  nlohmann::json runs = nlohmann::json::array();  ///< what each run was (files, device, date, commit)
  std::map<std::string, double> sigma;   ///< benchmark name -> stddev of ln(controlled time)
  double default_sigma = 0;
  /// The sigma of a benchmark (its own, else the default).
  double sigma_for(const BenchKey& k) const;
  bool has_own(const BenchKey& k) const { return sigma.count(k.name()) > 0; }
};

/// Measures it from two or more runs (each the merged files of one run). Throws
/// data::InputError with fewer than two runs or when no benchmark is in two of them.
CrossRunNoise measure_cross_run_noise(const std::vector<const PerfRun*>& runs,
                                      const std::vector<std::vector<std::string>>& files);

nlohmann::json noise_json(const CrossRunNoise& n);
/// Reads a noise file; data::InputError naming the file and what is wrong.
CrossRunNoise load_cross_run_noise(const std::filesystem::path& path);

}  // namespace attn::report

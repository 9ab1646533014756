// The noise of controlled step times between runs: measured from several runs of the same
// commit (on different nights or machines), it is what a cross-night change must exceed.
//
//   {"schema": "attn-harness.perf-noise/2",
//    "runs": [{"files": [...], "device": "...", "date": "...", "commit": "...",
//              "dates": ["...", ...]}, ...],          // dates: every file's (one per shard)
//    "prior_dof": 4,
//    "controls": {                // per control: a time over floor-sdpa and a time x GEMM rate
//      "floor-sdpa": {            // differ in noise, and a comparison uses the noise of its own
//        "sigma": {"train_step/flash/llama3-8b/L:4096/T:7": 0.012, ...},  // moderated: what report uses
//        "sigma_raw": {...},      // each benchmark's own sample stddev of ln(controlled time)
//        "pooled_sigma_by_L": {"1024": 0.09, ..., "32768": 0.02},  // the prior, per L
//        "default_sigma": 0.05},  // for benchmarks without their own, at an L not in the pool
//      "gemm": {...}}}            // same fields; absent when no benchmark has two runs of it
//
// Per control: "floor-sdpa" takes the runs in which the benchmark's same-shape control ran in
// its job; "gemm" takes every run with the benchmark (controlled by the GEMM rate, as
// compare_runs does when only one of two runs has the same-shape control, and for floor-sdpa
// itself). s_i, the sample standard deviation over those runs of ln(controlled time)
// (perf_controls.hpp) of a benchmark measured in n_i >= 2 runs, has nu_i = n_i - 1 degrees of
// freedom: from two or three runs it is often far too small by chance, and a later night would
// then flag that benchmark on noise. So each is moderated towards the pooled variance of the
// benchmarks of the same sequence length L, s_p^2(L) = sum nu_i s_i^2 / sum nu_i, as an
// empirical-Bayes prior with d0 = prior_dof degrees of freedom (the moderated variance of
// G. K. Smyth, "Linear models and empirical Bayes methods for assessing differential expression
// in microarray experiments", Stat. Appl. Genet. Mol. Biol. 3 (2004)):
// sigma_i^2 = (d0 s_p^2(L) + nu_i s_i^2) / (d0 + nu_i). The pool is per L because the noise
// between nights falls with the step's length: short steps (L = 1K, well under a millisecond
// for some) vary by several times more than long ones, so one pool for all would make the long
// steps' sigmas too large and the short steps' too small. With many runs a benchmark's own
// spread dominates. A benchmark without its own sigma takes its L's pooled sigma, else
// default_sigma, the 90th percentile of the moderated sigmas. Each control is pooled and
// moderated on its own.
//
// sigma is the noise of one run's ln(controlled time); a change between two runs is the
// difference of two such draws, so the rule compares it with sqrt(2) sigma (perf_compare.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/performance/perf_results.hpp"

namespace attn::report {

/// d0 of the moderated sigma: the prior counts as this many runs' worth of degrees of freedom.
inline constexpr double kNoisePriorDof = 4;

/// The noise of one control's controlled times.
struct ControlNoise {
  std::map<std::string, double> sigma;      ///< benchmark name -> moderated stddev of ln(controlled time)
  std::map<std::string, double> sigma_raw;  ///< benchmark name -> its own sample stddev
  std::map<std::int64_t, double> pooled_sigma_by_L;  ///< L -> sqrt of the pooled variance of that L
  double default_sigma = 0;
  /// The sigma of a benchmark: its own, else its L's pooled sigma, else the default.
  double sigma_for(const BenchKey& k) const;
  bool has_own(const BenchKey& k) const { return sigma.count(k.name()) > 0; }
};

struct CrossRunNoise {
  std::string source;                    ///< file it was read from ("" when measured here)
  nlohmann::json runs = nlohmann::json::array();  ///< what each run was (files, device, date, commit)
  std::map<std::string, ControlNoise> controls;   ///< "floor-sdpa", "gemm" (those measured)
  /// The noise of `control` (ControlledTime::control); nullptr when none was measured.
  const ControlNoise* of(const std::string& control) const;
  /// The sigma a comparison by `control` uses for `k`, and what it is: its own ("own"), the
  /// control's pool at k's L ("pool of L"), for floor-sdpa without a pool at that L the GEMM
  /// rate's pool there ("GEMM pool of L": in the nights measured the GEMM-controlled time varies
  /// at least as much at every L but one), else the control's default ("default"). NaN (and "")
  /// when the file has nothing for it.
  std::pair<double, std::string> sigma_for(const std::string& control, const BenchKey& k) const;
  /// Whether `run` is one of the runs this noise was measured from: one of its files' start
  /// dates is a date of a noise run (the "dates" of each run, else its "date").
  bool measured_from(const PerfRun& run) const;
};

/// Measures it from two or more runs (each the merged files of one run). Throws
/// data::InputError with fewer than two runs or when no benchmark is in two of them.
CrossRunNoise measure_cross_run_noise(const std::vector<const PerfRun*>& runs,
                                      const std::vector<std::vector<std::string>>& files);

nlohmann::json noise_json(const CrossRunNoise& n);
/// Reads a noise file; data::InputError naming the file and what is wrong.
CrossRunNoise load_cross_run_noise(const std::filesystem::path& path);

}  // namespace attn::report

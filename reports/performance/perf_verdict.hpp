// The verdict lines at the top of the report: per preset, in one or two sentences, how the
// lead backend (flash) compares with the fastest floor, and how the other backends (flex, sdpa,
// flash-fa2, ...) compare with the lead, each factor with its noise.
//
// Contract:
//  - workload train_step at the preset's chosen T (perf_tables.hpp, chosen_T);
//  - a factor is a ratio of median step times, a / b (above 1: a is slower), and its noise
//    the repetitions' relative standard deviations of a and b combined in quadrature
//    (sqrt(sa^2 + sb^2), sa = stddev_a / median_a): the relative stddev of the ratio, NaN
//    when either has fewer than two repetitions;
//  - the lead is flash when present, else the first non-floor backend in report order;
//  - the fastest floor at an L is the floor backend (floor, floor-fa2, floor-cudnn,
//    floor-sdpa, any floor-*) with the smallest median that ran at that L;
//  - lead vs floor at two points: the largest L where both ran, and the smallest such L
//    (one point when they coincide); every other backend vs the lead at the largest L where
//    both ran; a backend's failures at this T as "OOM at L ≥ 8K" (perf_failures.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reports/performance/perf_results.hpp"
#include "reports/performance/perf_tables.hpp"

namespace attn::report {

struct VerdictFactor {
  std::string backend, over;  ///< a and b of a / b
  std::int64_t L = 0;
  double ratio = 0;           ///< median_a / median_b
  double rel_noise = 0;       ///< relative stddev of the ratio; NaN when unknown
};

struct BackendVerdict {
  std::string backend;
  std::vector<VerdictFactor> factors;  ///< vs the lead (empty when they never both ran)
  std::string failures;                ///< "OOM at L ≥ 8K", "" when it ran at every L
};

struct PresetVerdict {
  std::string preset;
  std::int64_t T = 0;
  std::string lead;                          ///< "" when only floors ran
  std::vector<VerdictFactor> lead_vs_floor;  ///< largest L first; empty without a floor
  std::string lead_failures;
  std::vector<BackendVerdict> others;        ///< non-floor backends other than the lead
};

/// The relative stddev of median_a / median_b from the two results' repetitions (NaN unknown).
double ratio_noise(const PerfResult& a, const PerfResult& b);

/// The floor backend with the smallest median that ran at (preset, L, T); nullptr for none.
const PerfResult* fastest_floor(const PerfRun& run, const std::string& preset, std::int64_t L, std::int64_t T);

/// One verdict per preset with train_step benchmarks, in run order.
std::vector<PresetVerdict> preset_verdicts(const PerfRun& run);

/// "1.21× floor-sdpa (±0.8 %)" — with `name_over` false: "1.21× (±0.8 %)".
std::string factor_text(const VerdictFactor& f, bool name_over = true);

/// The verdict as one or two sentences (plain text, no markup):
///   "llama3-8b-mha, training step at T 7: flash 1.13× floor-sdpa (±0.4 %) at 32K, 1.99× (±1.2 %) at 4K."
///   "flex 1.45× flash (±0.7 %) at 32K; sdpa 6.74× flash (±5.8 %) at 4K, OOM at L ≥ 8K."
std::vector<std::string> verdict_sentences(const PresetVerdict& v);

/// The compact headline: per preset a row at each verdict L: lead ms, fastest floor, lead /
/// floor, every other backend / lead, lead GiB.
PerfTable verdict_table(const PerfRun& run, const std::vector<PresetVerdict>& verdicts);

/// The sentence under the verdicts saying how to read them.
std::string verdict_legend();

}  // namespace attn::report

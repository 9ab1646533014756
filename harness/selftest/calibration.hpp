// Calibration of a gate profile: the correct flash path (and the baseline) over seeds x
// presets x TTT steps; per tensor kind the distribution of err_c / err_b and of the gate's use
// err_c / threshold, and the margin to a false alarm (1 / max use). Optionally each mutant's
// use on the same cases: how far it is from a miss.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.hpp"
#include "reports/gate_profile.hpp"

namespace attn::cli::selftest {

struct CalibrationPlan {
  std::vector<std::string> presets;  ///< datasets/presets.hpp names
  int seeds = 3;
  int64_t seq = 128, batch = 2;      ///< batch element b > 0 is right-padded by seq / 8
  std::vector<int64_t> steps{1, 6};  ///< TTT steps t
  double grad_scale = 1.0;
  at::Device device{at::kCPU};
  report::GateProfile profile;
  std::shared_ptr<const kern::Backend> real, baseline;
  std::vector<std::shared_ptr<const kern::Backend>> mutants;  ///< empty: no miss margins
};

struct Distribution {
  int64_t n = 0;
  double min = 0, median = 0, p95 = 0, max = 0;  ///< nearest rank
};
Distribution distribution(std::vector<double> samples);

/// One tensor kind (out, lse, dq, dk, dv; dk and dv pool every cache block).
struct KindCalibration {
  std::string kind;
  Distribution ratio;  ///< err_c / err_b per (case, tensor)
  Distribution use;    ///< err_c / threshold per (case, tensor)
  double margin = 0;   ///< 1 / max use: thresholds may shrink by this factor before a false alarm
  std::string worst;   ///< "case:tensor" of the max use
};

struct MutantCalibration {
  std::string name;
  int cases = 0, flagged = 0;  ///< cases run, and flagged by the gate
  /// Per case the largest use over tensors; a case is flagged when it exceeds 1.
  double weakest_flag = 0;  ///< smallest per-case max use among flagged cases (0: none flagged)
  double median_use = 0, max_use = 0;  ///< over cases: max_use is the threshold factor at
                                       ///< which the mutant would escape on every case
  std::string max_where;
};

struct CalibrationResult {
  std::string device, profile, real, baseline;
  double grad_scale = 1;
  std::vector<std::string> cases, skipped;  ///< skipped: "case: reason"
  std::vector<KindCalibration> kinds;
  double margin = 0;            ///< over every kind
  std::string margin_where;
  int real_failures = 0;        ///< cases where the real path fails the gate
  std::vector<MutantCalibration> mutants;
};

/// Runs the plan. A case the real path or the baseline cannot run is skipped with its reason.
CalibrationResult run_calibration(const CalibrationPlan& plan,
                                  const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace attn::cli::selftest

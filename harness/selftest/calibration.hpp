// Calibration of the gate: the correct backends over a matrix of seeds x presets x TTT steps x
// grad_out scales, each against the fp64 reference. Per backend and tensor kind the
// distribution of the error relative to max|X_ref| (whose maximum, times a headroom, is the
// backend's error budget), of err_c / err_b against the baseline, and of the gate's use
// err_c / threshold under a profile; optionally each mutant's use on the same cases (its
// margin: how far over the threshold it is caught).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/backend.hpp"
#include "reports/accuracy/error_budgets.hpp"
#include "reports/accuracy/gate_profile.hpp"

namespace attn::cli::selftest {

struct CalibrationPlan {
  std::vector<std::string> presets;  ///< datasets/presets.hpp names
  std::vector<int64_t> steps{0, 3, 6};       ///< TTT steps t
  std::vector<double> grad_scales{1.0, 1e-3};  ///< std of grad_out
  int seeds = 2;
  uint64_t seed_base = 0;            ///< seeds seed_base .. seed_base + seeds - 1 of each shape
  int64_t seq = 128, batch = 2;      ///< batch element b > 0 is right-padded by seq / 8
  at::Device device{at::kCPU};
  report::GateProfile profile;       ///< the use is measured under it (rule and any budgets)
  std::vector<std::shared_ptr<const kern::Backend>> backends;  ///< calibrated (flash, sdpa, ...)
  std::shared_ptr<const kern::Backend> baseline;               ///< sdpa
  std::vector<std::shared_ptr<const kern::Backend>> mutants;   ///< empty: no mutant margins
  /// The budget key mutants are judged under (they claim to be this backend on this device).
  std::string mutant_budget_key;
  /// When set, every case is also written as a case folder <save_cases>/<case name>/ holding
  /// the inputs and the outputs of the baseline and the calibrated backends (not the mutants),
  /// so that a backend running outside this process (flex) can record into the same cases and
  /// calibrate_recorded judge them all.
  std::filesystem::path save_cases;
};

/// Calibration over recorded case folders: each producer named in `backends` is judged against
/// the recorded `baseline` and the fp64 reference (cached in the case, computed when absent).
/// The budget key of each producer comes from its provenance ("flex/cuda").
struct RecordedCalibrationPlan {
  std::vector<std::filesystem::path> cases;
  std::vector<std::string> backends;  ///< producer names
  std::string baseline = "sdpa";
  report::GateProfile profile;
};

struct Distribution {
  int64_t n = 0;
  double min = 0, median = 0, p95 = 0, max = 0;  ///< nearest rank
};
Distribution distribution(std::vector<double> samples);

/// One backend, one tensor kind (out, lse, dq, dk, dv; dk and dv pool every cache block).
struct KindCalibration {
  std::string kind;
  Distribution rel_err;  ///< err_c / max|X_ref| per (case, tensor)
  Distribution ratio;    ///< err_c / err_b
  Distribution use;      ///< err_c / threshold under the profile
  std::string worst_rel_err, worst_use;  ///< "case:tensor" of the maxima
};

struct BackendCalibration {
  std::string name, key;  ///< "flash", "flash/cpu" (the budget key)
  int cases = 0, failures = 0;  ///< cases run, and failed under the profile
  std::vector<KindCalibration> kinds;
  double max_use = 0;
  std::string max_use_where;
};

struct MutantCalibration {
  std::string name;
  struct Scale {
    int cases = 0, flagged = 0;
    double margin = 0;          ///< the largest per-case use (worst tensor): caught with this margin
    double weakest_flag = 0;    ///< the smallest per-case use among flagged cases (0: none)
    double median_use = 0;
    std::string margin_where;   ///< "case:tensor"
  } unit, realistic;            ///< grad_out scale 1 / below 1
};

struct CalibrationResult {
  std::string device, profile, baseline, budgets;  ///< budgets: the file the profile applies
  std::string source = "generated";                 ///< "generated" or "recorded" (case folders)
  CalibrationPlan plan;                             ///< (backends and mutants not used later)
  std::vector<std::string> cases, skipped;          ///< skipped: "case: reason"
  std::vector<BackendCalibration> backends;
  std::vector<MutantCalibration> mutants;
  double seconds = 0;
  int real_failures() const;  ///< failures of every calibrated backend together
};

/// Runs the plan. A case the baseline or a backend cannot run is skipped with its reason.
CalibrationResult run_calibration(const CalibrationPlan& plan,
                                  const std::function<void(int64_t, int64_t)>& progress = {});

/// Runs a recorded plan. A case without a current record of a backend is skipped for that
/// backend with the reason; a case without a current baseline is skipped.
CalibrationResult calibrate_recorded(const RecordedCalibrationPlan& plan,
                                     const std::function<void(int64_t, int64_t)>& progress = {});

/// Error budgets from a calibration: per backend key and kind, `headroom` x the largest
/// rel_err observed (`observed` keeps that maximum), merged into `base` (whose other keys are
/// kept) with `provenance` recorded under calibration[key].
report::ErrorBudgets budgets_from(const CalibrationResult& r, double headroom,
                                  const report::ErrorBudgets& base,
                                  const nlohmann::json& provenance);

}  // namespace attn::cli::selftest

// One output tensor of a candidate (and optionally a baseline) against the fp64 reference,
// over its valid elements only (output_tensors.hpp: valid_rows). Every view of docs/gate.md
// except the verdict, which gate_rule.hpp adds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/tensor.hpp"
#include "reports/accuracy/error_metrics.hpp"
#include "reports/accuracy/output_tensors.hpp"

namespace attn::report {

/// assert_close-style mismatch: |x - ref| > atol + rtol * |ref| (torch's bf16 defaults).
inline constexpr double kAssertCloseRtol = 1.6e-2, kAssertCloseAtol = 1e-5;
/// The old rule: cosine similarity >= 0.975 and |norm ratio - 1| <= 2.5 %.
inline constexpr double kOldRuleCosine = 0.975, kOldRuleNormTolerance = 0.025;

struct CompareOptions {
  int worst_k = 10;
  /// Relative error is |err| / max(|ref|, f * max|ref over the tensor's valid elements|), so
  /// elements near a zero crossing do not dominate; 1 replaces the floor of an all-zero tensor.
  double relative_floor_fraction = 1e-3;
  /// The gate's arithmetic floor: factor * max |(x + offset - offset) - x| in the candidate's
  /// dtype (docs/gate.md); factor 0 turns it off. With floor_offset_scaled the offset is
  /// floor_offset * max|ref over the tensor's valid elements| (a scale-free floor).
  double floor_factor = 2.0, floor_offset = 0.3;
  bool floor_offset_scaled = false;
  /// > 0: the floor is floor_ulps x ulp(max|ref|) in the candidate's dtype instead.
  double floor_ulps = 0;
  /// ULP statistics leave out elements whose |reference| is below this fraction of
  /// max|reference| (there a few ULP of the element's own magnitude are far below the
  /// tensor's rounding at its scale, and ULP counts measure cancellation, not precision).
  double ulp_min_fraction = 1.0 / 256.0;
  /// A violated "zeros" invalid-row declaration fails the case (false: only reported).
  bool enforce_invalid_rows = true;
  /// The error-budget key the candidate is judged under ("flash/cuda"); empty: from its
  /// provenance (error_budgets.hpp budget_key).
  std::string budget_key;
};

/// Error measures of one producer's values against the reference.
struct ErrorStats {
  data::DType dtype = data::DType::bf16;  ///< the producer tensor's dtype, also the ULP unit
  int64_t elements = 0;                   ///< judged (valid, reference finite)
  double max_abs = 0, mean_abs = 0;       ///< max is +inf when any value is non-finite;
  double max_rel = 0, mean_rel = 0;       ///< means are over finite values only
  int64_t nan = 0, inf = 0;               ///< non-finite where the reference is finite
  double ulp_p50 = 0, ulp_p99 = 0, ulp_max = 0;  ///< in steps of `dtype`
  int64_t ulp_elements = 0;  ///< elements in the ULP statistics (|ref| >= ulp_min_fraction max|ref|)
  ErrorHistogram histogram;               ///< of |err|
  double cosine = 1, norm_ratio = 1;      ///< against the reference, over valid elements
  bool old_rule_pass = true;
  int64_t assert_close_mismatches = 0;

  int64_t nonfinite() const { return nan + inf; }
};

/// Errors over one region of the tensor (rows by position decile, or one GQA group).
struct RegionStats {
  std::string kind;     ///< "rows", "group" or "head"
  std::string label;    ///< "rows 0-9" (row index range, inclusive), "group 2", "head 5"
  int64_t first = 0, last = 0;  ///< row range for "rows", the group (head) index twice otherwise
  int64_t elements = 0;
  double candidate_max_abs = 0, candidate_mean_abs = 0;
  double baseline_max_abs = 0;  ///< NaN without baseline
};

struct WorstElement {
  int64_t b = 0, head = 0, row = 0;
  int64_t col = -1;    ///< d; -1 for lse
  int64_t block = -1;  ///< cache block for dk/dv, -1 otherwise
  double reference = 0, candidate = 0, baseline = 0;  ///< baseline NaN without baseline
  double abs_err = 0, rel_err = 0, ulp = 0;
};

struct GateVerdict {
  bool judged = false;  ///< false: the profile does not judge this tensor
  bool passed = true;
  std::string mode;     ///< "relative" or "absolute"
  double err_c = 0, err_b = 0;  ///< err_b NaN when there is no baseline
  double ratio = 0;             ///< r_X (relative mode)
  double atol = 0;              ///< absolute mode: atol + atol_scaled * max|ref|
  double floor = 0;
  double rule_threshold = 0;    ///< r * err_b + floor, or atol + floor
  double budget = 0;            ///< the error budget (relative to max|ref|); 0: none applies
  double budget_threshold = 0;  ///< budget * max|ref|
  double threshold = 0;         ///< the smaller of the two that apply
  std::string bound;            ///< which one the threshold is: "rule" or "budget"
  std::string reason;           ///< why it failed (empty when it passed)

  /// err_c / threshold (<= 1 passes); inf when threshold is 0 and err_c > 0.
  double use() const;
};

struct TensorComparison {
  TensorId id;
  std::string name;
  std::vector<int64_t> shape;
  int64_t valid_elements = 0;       ///< elements in valid rows
  int64_t reference_nonfinite = 0;  ///< skipped: the reference itself is not finite there
  double reference_max_abs = 0;
  double relative_floor = 0;        ///< the denominator floor of the relative error
  double arithmetic_floor = 0;      ///< the gate's floor for the candidate's dtype
  ErrorStats candidate;
  std::optional<ErrorStats> baseline;
  std::vector<RegionStats> regions;
  std::vector<WorstElement> worst;  ///< by candidate |err|, worst first; ties: lower index
  GateVerdict gate;
  double seconds = 0;               ///< time spent comparing and judging this tensor
};

/// Compares `candidate` (and `baseline` when given) with `reference`, all of shape [B, X, L]
/// or [B, X, L, D], over rows i < valid_rows[b]. `heads_per_group` maps dimension 1 onto GQA
/// groups (H / Hkv for query-head tensors, 1 for kv-head tensors). Throws InputError when a
/// shape differs from the reference's.
TensorComparison compare_tensor(const TensorId& id, const data::Tensor& reference,
                                const data::Tensor& candidate, const data::Tensor* baseline,
                                const std::vector<int64_t>& valid_rows, int64_t heads_per_group,
                                const CompareOptions& options);

}  // namespace attn::report

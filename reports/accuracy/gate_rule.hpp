// The gate verdict of one compared tensor under a profile (docs/gate.md):
//   relative:  err_c <= ratio * err_b + floor
//   absolute:  err_c <= atol + atol_scaled * max|X_ref| + floor
// and, when the candidate has an error budget for this tensor kind, also
//   err_c <= budget * max|X_ref|
// (the tensor passes iff every rule that applies holds: the threshold is the smaller one).
// A non-finite candidate value where the reference is finite always fails; so does a
// non-finite baseline value under a relative rule (the threshold would be meaningless).
#pragma once

#include <optional>

#include "reports/accuracy/gate_profile.hpp"
#include "reports/accuracy/tensor_comparison.hpp"

namespace attn::report {

/// Fills tc.gate from `profile` and the candidate's `budget` for this tensor's kind (none: the
/// rule alone). A tensor the profile does not list gets judged = false. Throws InputError when
/// a relative rule applies and tc has no baseline.
void apply_gate(const GateProfile& profile, TensorComparison& tc,
                std::optional<double> budget = std::nullopt);

}  // namespace attn::report

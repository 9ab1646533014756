// The gate verdict of one compared tensor under a profile (DESIGN.md section 3):
//   relative:  pass iff err_c <= ratio * err_b + floor
//   absolute:  pass iff err_c <= atol + atol_scaled * max|X_ref| + floor
// A non-finite candidate value where the reference is finite always fails; so does a
// non-finite baseline value under a relative rule (the threshold would be meaningless).
#pragma once

#include "reports/gate_profile.hpp"
#include "reports/tensor_comparison.hpp"

namespace attn::report {

/// Fills tc.gate from `profile`. A tensor the profile does not list gets judged = false.
/// Throws InputError when a relative rule applies and tc has no baseline.
void apply_gate(const GateProfile& profile, TensorComparison& tc);

}  // namespace attn::report

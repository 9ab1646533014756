// Between case files (datasets/) and the fp64 reference (references/): views in, tensors out.
#pragma once

#include "datasets/case.hpp"
#include "references/ttt_problem.hpp"

namespace attn::cli {

/// Views over `in`'s buffers; `in` must outlive the result. Scale 0 becomes 1/sqrt(D).
ref::TttInputs reference_inputs(const data::CaseInputs& in);

/// The reference result as fp64 tensors in the case layout (moves the buffers).
data::AttentionOutputs reference_outputs(ref::TttResult&& r, const data::CaseConfig& c);

}  // namespace attn::cli

// Between case files (datasets/) and the fp64 reference (references/): fp64 copies of the
// inputs in, tensors out.
#pragma once

#include <memory>
#include <vector>

#include "datasets/case.hpp"
#include "references/ttt_problem.hpp"

namespace attn::cli {

/// The inputs converted to fp64 (exact) and the reference's view of them. Not copyable: the
/// view points into the vectors.
struct ReferenceProblem {
  std::vector<double> q, grad_out;
  std::vector<std::vector<double>> k, v;
  ref::TttInputs view;
};

/// Converts `in` (any dtype) to fp64, in parallel. Scale 0 becomes 1/sqrt(D).
std::unique_ptr<ReferenceProblem> reference_problem(const data::CaseInputs& in);

/// The reference result as fp64 tensors in the case layout (moves the buffers).
data::AttentionOutputs reference_outputs(ref::TttResult&& r, const data::CaseConfig& c);

}  // namespace attn::cli

// The self-test's fixture suite: small generated cases (datasets/generator.hpp, in memory)
// that together give every mutant of kernels/mutants.hpp a case able to show it: GQA (H 4,
// Hkv 2) and MQA (Hkv 1), D 64 and 128, t = 0, 1, 3, 6, right padding on some batch elements;
// grad_out of unit scale on most (as flash-attention's own tests) and of the generator's
// realistic scale 1e-3 on some, where the bf16 profile's absolute floor dominates gradients.
#pragma once

#include <string>
#include <vector>

#include "datasets/generator.hpp"

namespace attn::cli::selftest {

struct FixtureCase {
  std::string name;  ///< e.g. "gqa-L128-D128-t3-pad-unit"
  data::GeneratorSpec spec;
  /// grad_out of realistic size (grad_scale < 1) rather than unit scale.
  bool realistic_grads() const { return spec.grad_scale < 1.0; }
};

/// The default suite: 9 cases, sized so that the whole self-test runs in well under a minute
/// on two CPU cores. Deterministic (fixed seeds).
std::vector<FixtureCase> default_suite();

/// A smaller suite (3 cases) for unit tests of the self-test machinery.
std::vector<FixtureCase> tiny_suite();

/// "gqa-L128-D128-t3-pad-unit" from a spec.
std::string case_name(const data::GeneratorSpec& s);

}  // namespace attn::cli::selftest

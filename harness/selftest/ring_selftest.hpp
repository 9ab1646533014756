// The ring self-test (`attn-harness selftest --ring P`): the ring backend and its mutants
// (harness/ring/ring_variants.hpp) over the self-test's fixture suite with P ranks, judged like
// the flash self-test into a DetectionMatrix whose real path is `ring`. The ring runs in Python
// (kernels/ring/), so the cases are written to a temporary folder and every variant on every
// case runs in one launcher call (one process group); the baseline runs in this process.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "harness/ring/ring_run.hpp"
#include "harness/selftest/detection_matrix.hpp"
#include "harness/selftest/fixture_suite.hpp"
#include "kernels/backend.hpp"
#include "reports/accuracy/gate_profile.hpp"

namespace attn::cli::selftest {

struct RingSelftestPlan {
  std::vector<FixtureCase> cases;
  RingOptions ring;                               ///< world, device, block-0 kernel, timeout
  std::shared_ptr<const kern::Backend> baseline;  ///< sdpa by default
  std::vector<std::string> variants;              ///< "ring" first, then the mutants
  report::GateProfile default_profile, first_rule_profile;
  /// The error budget every variant is judged under (the mutants claim to be the ring):
  /// "ring/<cpu|cuda>"; none applies when the budget file lacks it.
  std::string budget_key;
};

/// default_suite(), baseline sdpa, ring then every ring mutant, profiles bf16 and
/// bf16-offset-floor.
RingSelftestPlan default_ring_plan(const RingOptions& ring);

/// Runs the plan. When the launcher fails, every variant gets that error on every case (the
/// matrix then fails). `progress(done, total)` counts cases judged.
DetectionMatrix run_ring_selftest(const RingSelftestPlan& plan,
                                  const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace attn::cli::selftest

// Runs the self-test: every variant of the flash path over the fixture suite on one device,
// each judged against the fp64 reference and the baseline under the default profile (with the
// real path's error budget on this device) and the first rule (bf16-offset-floor), into a
// DetectionMatrix.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "harness/selftest/case_runner.hpp"
#include "harness/selftest/detection_matrix.hpp"
#include "harness/selftest/fixture_suite.hpp"
#include "kernels/backend.hpp"
#include "reports/accuracy/gate_profile.hpp"

namespace attn::cli::selftest {

struct Variant {
  std::shared_ptr<const kern::Backend> backend;
  Expect expect = Expect::gate;
};

struct SelftestPlan {
  std::vector<FixtureCase> cases;
  at::Device device{at::kCPU};
  std::shared_ptr<const kern::Backend> baseline;  ///< sdpa by default
  std::vector<Variant> variants;                  ///< the real path first, then the mutants
  report::GateProfile default_profile, first_rule_profile;
};

/// A mutant backend as a variant: expected to be seen as its catalogue entry says (the gate
/// for a backend that is not in the catalogue).
Variant mutant_variant(std::shared_ptr<const kern::Backend> backend);

/// One variant's outputs on one prepared case, judged against the reference and the baseline
/// under both profiles; `budget_key` ("flash/cpu") selects the default profile's error budget
/// (none applies when the budget file lacks it).
CaseVerdicts judge_variant(const FixtureCase& fc, const PreparedCase& c,
                           const data::ProducerOutputs& out, const data::ProducerOutputs& base,
                           const report::GateProfile& default_profile,
                           const report::GateProfile& first_rule_profile,
                           const std::string& budget_key);

/// The default plan: default_suite(), baseline sdpa, flash then every mutant, profiles bf16
/// and bf16-offset-floor (found through report::find_profile).
SelftestPlan default_plan(const at::Device& device);

/// Runs the plan and summarizes it. A variant that throws or does not support a case gets an
/// error for that case (the real path then fails the self-test). `progress(done, total)`
/// counts backend runs.
DetectionMatrix run_selftest(const SelftestPlan& plan,
                             const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace attn::cli::selftest

// The self-test machinery must be able to fail: a broken real path, a mutant the gate cannot
// see, and a wrong "invisible to the gate" declaration each turn the verdict into a failure.
// The runs use the tiny suite (three small cases) on the CPU.
#include <gtest/gtest.h>

#include "harness/selftest/calibration.hpp"
#include "harness/selftest/selftest_run.hpp"
#include "kernels/registry.hpp"

namespace attn::cli::selftest {
namespace {

SelftestPlan tiny_plan(const std::string& real, const std::vector<std::string>& mutants) {
  SelftestPlan p;
  p.cases = tiny_suite();
  p.baseline = kern::find_backend("sdpa");
  p.variants.push_back({kern::find_backend(real), Expect::pass});
  for (const auto& m : mutants) p.variants.push_back(mutant_variant(kern::find_backend(m)));
  p.default_profile = report::find_profile("bf16");
  p.first_rule_profile = report::find_profile("bf16-offset-floor");
  return p;
}

bool mentions(const DetectionMatrix& m, const std::string& what) {
  for (const auto& p : m.problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}

TEST(Selftest, PassesWithTheRealPathAndCaughtMutants) {
  const DetectionMatrix m =
      run_selftest(tiny_plan("flash", {"mutant-own-lse", "mutant-unmasked-invalid-rows"}));
  EXPECT_TRUE(m.passed) << m.problems.size() << " problems, first: "
                        << (m.problems.empty() ? "" : m.problems.front());
  ASSERT_EQ(m.rows.size(), 3u);
  EXPECT_EQ(m.rows[0].verdict, "passes");
  EXPECT_EQ(m.rows[0].default_unit.of + m.rows[0].default_realistic.of, 3);
  EXPECT_EQ(m.rows[1].verdict, "caught");
  EXPECT_EQ(m.rows[2].expect, Expect::invalid_rows);
  EXPECT_EQ(m.rows[2].verdict, "caught (invalid rows)");
}

TEST(Selftest, FailsWhenTheRealPathIsBroken) {
  // The shipped defect in the real slot: the gate flags it, so the self-test must fail.
  const DetectionMatrix m = run_selftest(tiny_plan("mutant-own-lse", {"mutant-prev-position"}));
  EXPECT_FALSE(m.passed);
  EXPECT_FALSE(m.rows[0].ok);
  EXPECT_TRUE(mentions(m, "mutant-own-lse (the real path): the default gate flags it")) << m.problems.front();
}

TEST(Selftest, FailsWhenAMutantEscapes) {
  // The GQA mapping mutant on MQA cases only (both mappings agree there): a miss.
  SelftestPlan p = tiny_plan("flash", {"mutant-gqa-tiled"});
  p.cases = {p.cases[1]};
  ASSERT_EQ(p.cases[0].spec.kv_heads, 1);
  const DetectionMatrix m = run_selftest(p);
  EXPECT_FALSE(m.passed);
  EXPECT_EQ(m.rows[1].verdict, "MISSED");
  EXPECT_TRUE(mentions(m, "mutant-gqa-tiled: the default gate flags it on no case"));
}

TEST(Selftest, FailsWhenAGateVisibleMutantIsDeclaredInvisible) {
  SelftestPlan p = tiny_plan("flash", {"mutant-no-singleton-dq"});
  p.variants[1].expect = Expect::invalid_rows;
  const DetectionMatrix m = run_selftest(p);
  EXPECT_FALSE(m.passed);
  EXPECT_EQ(m.rows[1].verdict, "WRONG DECLARATION");
}

TEST(Selftest, SummarizeNeedsARealPathAndAMutant) {
  DetectionMatrix none;
  summarize(none);
  EXPECT_FALSE(none.passed);

  VariantRow real;
  real.name = "flash";
  real.expect = Expect::pass;
  CaseVerdicts ok;
  ok.case_name = "c";
  real.cases = {ok};
  DetectionMatrix only_real;
  only_real.rows = {real};
  summarize(only_real);
  EXPECT_FALSE(only_real.passed);
  EXPECT_TRUE(mentions(only_real, "no mutants"));

  // A real path that did not run on a case fails, even with every mutant caught.
  VariantRow mutant;
  mutant.name = "m";
  CaseVerdicts flagged = ok;
  flagged.default_failed = {"dq"};
  mutant.cases = {flagged, flagged};
  CaseVerdicts broken = ok;
  broken.error = "unsupported: something";
  real.cases = {ok, broken};
  DetectionMatrix with_error;
  with_error.rows = {real, mutant};
  summarize(with_error);
  EXPECT_FALSE(with_error.passed);
  EXPECT_EQ(with_error.rows[1].verdict, "caught");
  real.cases = {ok, ok};
  with_error.rows = {real, mutant};
  summarize(with_error);
  EXPECT_TRUE(with_error.passed);
}

TEST(Calibration, DistributionUsesNearestRank) {
  const Distribution d = distribution({5, 1, 4, 2, 3, 6, 7, 8, 9, 10});
  EXPECT_EQ(d.n, 10);
  EXPECT_EQ(d.min, 1);
  EXPECT_EQ(d.median, 5);
  EXPECT_EQ(d.p95, 10);
  EXPECT_EQ(d.max, 10);
  EXPECT_EQ(distribution({}).n, 0);
}

TEST(Calibration, RealPathHasAMarginAndMutantsAreFlagged) {
  CalibrationPlan p;
  p.presets = {"llama3-8b"};
  p.seeds = 1;
  p.seq = 48;
  p.steps = {2};
  p.grad_scales = {1.0, 1e-3};
  p.profile = report::find_profile("bf16");
  p.backends = {kern::find_backend("flash"), kern::find_backend("sdpa")};
  p.baseline = kern::find_backend("sdpa");
  p.mutants = {kern::find_backend("mutant-own-lse")};
  p.mutant_budget_key = "flash/cpu";
  const CalibrationResult r = run_calibration(p);
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_EQ(r.real_failures(), 0);
  ASSERT_EQ(r.backends.size(), 2u);
  const BackendCalibration& flash = r.backends[0];
  EXPECT_EQ(flash.key, "flash/cpu");
  EXPECT_LT(flash.max_use, 1.0);
  ASSERT_EQ(flash.kinds.size(), 5u);
  EXPECT_EQ(flash.kinds[3].kind, "dk");
  EXPECT_EQ(flash.kinds[3].use.n, 6);  // dk0, dk1, dk2 on two cases
  EXPECT_GT(flash.kinds[0].rel_err.max, 0.0);
  EXPECT_LT(flash.kinds[0].rel_err.max, 0.05);
  ASSERT_EQ(r.mutants.size(), 1u);
  EXPECT_EQ(r.mutants[0].unit.flagged, 1);
  EXPECT_EQ(r.mutants[0].realistic.flagged, 1);
  EXPECT_GT(r.mutants[0].unit.margin, 1.0);

  // Budgets: headroom x the largest error seen, per backend key and kind; other keys kept.
  report::ErrorBudgets base;
  base.budgets["flex/cuda"]["out"] = 0.5;
  const report::ErrorBudgets b = budgets_from(r, 4.0, base, nlohmann::json{{"note", "test"}});
  EXPECT_EQ(b.budgets.at("flex/cuda").at("out"), 0.5);
  EXPECT_DOUBLE_EQ(b.budgets.at("flash/cpu").at("out"), 4.0 * flash.kinds[0].rel_err.max);
  EXPECT_DOUBLE_EQ(b.observed.at("flash/cpu").at("dq"), flash.kinds[2].rel_err.max);
  EXPECT_EQ(b.calibration.at("flash/cpu").at("cases"), 2);
  EXPECT_TRUE(b.has("sdpa/cpu"));
}

}  // namespace
}  // namespace attn::cli::selftest

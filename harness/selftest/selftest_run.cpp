#include "harness/selftest/selftest_run.hpp"

#include <optional>

#include "datasets/errors.hpp"
#include "harness/selftest/case_runner.hpp"
#include "kernels/mutants.hpp"
#include "kernels/registry.hpp"

namespace attn::cli::selftest {

Variant mutant_variant(std::shared_ptr<const kern::Backend> backend) {
  Variant v;
  const kern::MutantInfo* info = kern::find_mutant(backend->name());
  v.expect = info && info->seen == kern::MutantInfo::Seen::invalid_rows_only ? Expect::invalid_rows
                                                                             : Expect::gate;
  v.backend = std::move(backend);
  return v;
}

CaseVerdicts judge_variant(const FixtureCase& fc, const PreparedCase& c,
                           const data::ProducerOutputs& out, const data::ProducerOutputs& base,
                           const report::GateProfile& default_profile,
                           const report::GateProfile& first_rule_profile,
                           const std::string& budget_key) {
  report::CompareOptions opt;
  opt.budget_key = budget_key;
  const report::CaseComparison d =
      report::compare_case(c.inputs, c.reference, out, &base, default_profile, opt);
  const report::CaseComparison s =
      report::compare_case(c.inputs, c.reference, out, &base, first_rule_profile, opt);
  return verdicts_of(fc.name, fc.realistic_grads(), d, s);
}

SelftestPlan default_plan(const at::Device& device) {
  SelftestPlan p;
  p.cases = default_suite();
  p.device = device;
  p.baseline = kern::find_backend("sdpa");
  p.variants.push_back({kern::find_backend("flash"), Expect::pass});
  for (const auto& m : kern::mutant_backends()) p.variants.push_back(mutant_variant(m));
  p.default_profile = report::find_profile("bf16");
  p.first_rule_profile = report::find_profile("bf16-offset-floor");
  return p;
}

DetectionMatrix run_selftest(const SelftestPlan& plan,
                             const std::function<void(int64_t, int64_t)>& progress) {
  if (!plan.baseline) throw data::InputError("selftest: no baseline backend");
  DetectionMatrix m;
  m.device = plan.device.str();
  m.baseline = plan.baseline->name();
  m.default_profile = plan.default_profile.name;
  m.first_rule_profile = plan.first_rule_profile.name;
  m.budgets = plan.default_profile.budgets && plan.default_profile.budgets->has(
                  plan.variants.empty() ? "" : plan.variants.front().backend->name() + "/" +
                                                   (plan.device.is_cpu() ? "cpu" : "cuda"))
                  ? plan.default_profile.budgets->source
                  : "";
  for (const Variant& v : plan.variants) {
    VariantRow r;
    r.name = v.backend->name();
    r.expect = v.expect;
    if (const kern::MutantInfo* info = kern::find_mutant(r.name)) {
      r.summary = info->summary;
      r.invisible_when = info->invisible_when;
    }
    m.rows.push_back(std::move(r));
  }

  const int64_t total = int64_t(plan.cases.size() * (plan.variants.size() + 1));
  int64_t done = 0;
  auto tick = [&] {
    ++done;
    if (progress) progress(done, total);
  };
  for (const FixtureCase& fc : plan.cases) {
    const PreparedCase c = prepare_case(data::generate_case(fc.spec), plan.device);
    std::optional<data::ProducerOutputs> base;
    std::string base_error;
    try {
      base = run_backend(*plan.baseline, c, plan.device);
    } catch (const std::exception& e) {
      base_error = "baseline " + plan.baseline->name() + " did not run: " + e.what();
    }
    tick();
    for (size_t i = 0; i < plan.variants.size(); ++i) {
      CaseVerdicts v;
      v.case_name = fc.name;
      v.realistic_grads = fc.realistic_grads();
      if (!base) {
        v.error = base_error;
      } else {
        try {
          const data::ProducerOutputs out = run_backend(*plan.variants[i].backend, c, plan.device);
          // Every variant claims to be the real path: judged under its error budget.
          v = judge_variant(fc, c, out, *base, plan.default_profile, plan.first_rule_profile,
                            plan.variants.front().backend->name() + "/" +
                                (plan.device.is_cpu() ? "cpu" : "cuda"));
        } catch (const std::exception& e) {
          v.error = e.what();
        }
      }
      m.rows[i].cases.push_back(std::move(v));
      tick();
    }
  }
  summarize(m);
  return m;
}

}  // namespace attn::cli::selftest

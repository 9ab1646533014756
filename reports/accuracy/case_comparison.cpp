#include "reports/accuracy/case_comparison.hpp"

#include <chrono>

#include "datasets/errors.hpp"
#include "reports/accuracy/gate_rule.hpp"
#include "reports/accuracy/output_tensors.hpp"

namespace attn::report {

int CaseComparison::judged() const {
  int n = 0;
  for (const auto& t : tensors) n += t.gate.judged;
  return n;
}

std::vector<std::string> CaseComparison::failed_tensors() const {
  std::vector<std::string> names;
  for (const auto& t : tensors)
    if (t.gate.judged && !t.gate.passed) names.push_back(t.name);
  return names;
}

CaseComparison compare_case(const data::CaseInputs& inputs, const data::ProducerOutputs& reference,
                            const data::ProducerOutputs& candidate,
                            const data::ProducerOutputs* baseline, const GateProfile& profile,
                            CompareOptions options) {
  return compare_case(inputs.config, inputs.valid_len, reference, candidate, baseline, profile,
                      options);
}

CaseComparison compare_case(const data::CaseConfig& c, const std::vector<int64_t>& valid_len,
                            const data::ProducerOutputs& reference,
                            const data::ProducerOutputs& candidate,
                            const data::ProducerOutputs* baseline, const GateProfile& profile,
                            CompareOptions options) {
  if (profile.needs_baseline() && !baseline)
    throw data::InputError("profile " + profile.name +
                           " is relative (err_c <= r * err_b + floor) and needs a baseline; "
                           "none was given (use an absolute profile such as abs-bf16 when no "
                           "baseline exists)");
  options.floor_factor = profile.floor_factor;
  options.floor_offset = profile.floor_offset;
  options.floor_offset_scaled = profile.floor_offset_scaled;
  options.floor_ulps = profile.floor_ulps;

  CaseComparison cc;
  cc.config = c;
  cc.valid_len = valid_len;
  cc.valid_rows = valid_rows(valid_len, c.t);
  cc.candidate = {candidate.name, candidate.provenance};
  cc.reference = {reference.name, reference.provenance};
  if (baseline) cc.baseline = ProducerInfo{baseline->name, baseline->provenance};
  cc.profile = profile;
  cc.options = options;
  cc.budget_key = options.budget_key.empty() ? budget_key(candidate.provenance) : options.budget_key;
  cc.budgets_apply = profile.budgets && profile.budgets->has(cc.budget_key);
  if (profile.budgets && !cc.budgets_apply)
    cc.notes.push_back("no error budget for " + cc.budget_key + " in " + profile.budgets->source +
                       ": judged by the relative rule alone");

  const int64_t group = c.Hkv > 0 ? c.H / c.Hkv : 1;
  std::string not_recorded;
  for (const TensorId& id : output_tensor_ids(c.t)) {
    // Only what the candidate recorded is judged (a producer may record out alone).
    const data::Tensor* xp = find_tensor(candidate.outputs, id);
    if (!xp) {
      not_recorded += (not_recorded.empty() ? "" : ", ") + id.name();
      continue;
    }
    const data::Tensor& x = *xp;
    const data::Tensor& r = select_tensor(reference.outputs, id, "reference");
    const data::Tensor* base =
        baseline ? &select_tensor(baseline->outputs, id, "baseline " + baseline->name) : nullptr;
    const auto want = expected_shape(id, c);
    if (r.shape != want)
      throw data::InputError("reference " + id.name() + ": expected shape " +
                             data::shape_string(want) + ", found " + data::shape_string(r.shape));
    TensorComparison tc =
        compare_tensor(id, r, x, base, cc.valid_rows, id.per_kv_head() ? 1 : group, options);
    const auto started = std::chrono::steady_clock::now();
    apply_gate(profile, tc,
               cc.budgets_apply ? profile.budgets->find(cc.budget_key, id.kind_name()) : std::nullopt);
    tc.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (tc.gate.judged && !tc.gate.passed) cc.passed = false;
    cc.tensors.push_back(std::move(tc));
  }
  if (cc.tensors.empty())
    throw data::InputError("candidate " + candidate.name + " recorded no output tensor");
  if (!not_recorded.empty())
    cc.notes.push_back(candidate.name + " did not record " + not_recorded + ": not judged");
  if (cc.judged() == 0)
    throw data::InputError("candidate " + candidate.name + " records only " +
                           cc.tensors.front().name + (cc.tensors.size() > 1 ? ", ..." : "") +
                           ", none of which profile " + profile.name + " judges");
  const auto ir_started = std::chrono::steady_clock::now();
  cc.invalid_rows = check_invalid_rows(candidate, cc.valid_rows, c.t);
  cc.invalid_rows_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ir_started).count();
  if (cc.invalid_rows.checked && !cc.invalid_rows.passed) {
    if (options.enforce_invalid_rows)
      cc.passed = false;
    else
      cc.notes.push_back("the invalid-row contract is violated; --invalid-rows warn keeps it out "
                         "of the verdict");
  }
  return cc;
}

}  // namespace attn::report

#include "reports/accuracy/gate_rule.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "datasets/errors.hpp"

namespace attn::report {
namespace {

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

}  // namespace

void apply_gate(const GateProfile& profile, TensorComparison& tc, std::optional<double> budget) {
  GateVerdict& g = tc.gate;
  g = GateVerdict{};
  g.mode = profile.mode_name();
  g.err_c = tc.candidate.max_abs;
  g.err_b = tc.baseline ? tc.baseline->max_abs : std::numeric_limits<double>::quiet_NaN();
  g.floor = tc.arithmetic_floor;
  const auto rule = profile.rule_for(tc.id);
  if (!rule) return;
  g.judged = true;

  if (profile.mode == GateProfile::Mode::relative) {
    if (!tc.baseline)
      throw data::InputError("profile " + profile.name + " is relative and judges " + tc.name +
                             ", but no baseline was given");
    g.ratio = rule->ratio;
    g.rule_threshold = g.ratio * g.err_b + g.floor;
  } else {
    g.atol = rule->atol + rule->atol_scaled * tc.reference_max_abs;
    g.rule_threshold = g.atol + g.floor;
  }
  g.threshold = g.rule_threshold;
  g.bound = "rule";
  if (budget) {
    g.budget = *budget;
    g.budget_threshold = *budget * tc.reference_max_abs;
    if (g.budget_threshold < g.threshold || std::isnan(g.threshold)) {
      g.threshold = g.budget_threshold;
      g.bound = "budget";
    }
  }

  if (tc.candidate.nonfinite() > 0) {
    g.passed = false;
    g.reason = std::to_string(tc.candidate.nan) + " NaN and " + std::to_string(tc.candidate.inf) +
               " Inf where the reference is finite";
  } else if (profile.mode == GateProfile::Mode::relative && tc.baseline->nonfinite() > 0) {
    g.passed = false;
    g.reason = "the baseline has " + std::to_string(tc.baseline->nonfinite()) +
               " non-finite values where the reference is finite: no relative threshold";
  } else if (!(g.err_c <= g.threshold)) {
    g.passed = false;
    if (g.bound == "budget")
      g.reason = "err_c " + sci(g.err_c) + " > budget " + sci(g.budget_threshold) + " = " +
                 sci(g.budget) + " x max|ref| " + sci(tc.reference_max_abs) +
                 (g.err_c <= g.rule_threshold ? " (within the rule's " + sci(g.rule_threshold) + ")"
                                              : "");
    else
      g.reason = "err_c " + sci(g.err_c) + " > threshold " + sci(g.threshold) +
                 (profile.mode == GateProfile::Mode::relative
                      ? " = " + sci(g.ratio) + " x err_b " + sci(g.err_b) + " + floor " + sci(g.floor)
                      : " = atol " + sci(g.atol) + " + floor " + sci(g.floor));
  }
}

}  // namespace attn::report

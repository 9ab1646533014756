// The gate rule over a whole case: relative and absolute profiles, the floor, NaN, valid rows
// only, the invalid-row contract check, and missing-baseline errors.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/errors.hpp"
#include "reports/accuracy/error_budgets.hpp"
#include "reports/accuracy/error_metrics.hpp"
#include "reports/accuracy/case_comparison.hpp"
#include "reports/accuracy/gate_rule.hpp"
#include "reports/accuracy/tests/synthetic_case.hpp"

namespace attn::report {
namespace {

using test::flat_index;
using test::make_synthetic;
using test::rounded_producer;
using test::tensor_of;

const TensorId kDq{TensorKind::dq, -1};
const TensorId kOut{TensorKind::out, -1};

const TensorComparison& find(const CaseComparison& c, const std::string& name) {
  for (const auto& t : c.tensors)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

TEST(Gate, CandidateEqualToBaselinePasses) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  const auto cand = rounded_producer(s.reference, "flash");
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.judged(), 3 + 2 * 3);  // out, lse, dq, dk0..dk2, dv0..dv2
  EXPECT_EQ(c.tensors.size(), 9u);
  for (const auto& t : c.tensors) {
    EXPECT_TRUE(t.gate.judged);
    EXPECT_EQ(t.gate.err_c, t.gate.err_b) << t.name;
    EXPECT_GT(t.gate.err_c, 0) << t.name;  // bf16 rounding of random values is never exact everywhere
  }
}

// f64 candidates make the floor ~1e-16, so the ratio alone decides.
CaseComparison dq_error_ratio_case(double ratio) {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::f64, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::f64);
  const double e = 1e-3;
  data::Tensor& bq = tensor_of(base, kDq);
  data::Tensor& cq = tensor_of(cand, kDq);
  test::add_value(bq, flat_index(bq, 0, 0, 5, 1), e);
  test::add_value(cq, flat_index(cq, 1, 2, 3, 7), -(ratio * e));
  return compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
}

TEST(Gate, DqErrorThreePointOneTimesBaselineFails) {
  const CaseComparison c = dq_error_ratio_case(3.1);
  EXPECT_FALSE(c.passed);
  ASSERT_EQ(c.failed_tensors(), std::vector<std::string>{"dq"});
  const GateVerdict& g = find(c, "dq").gate;
  EXPECT_NEAR(g.err_c, 3.1e-3, 1e-12);
  EXPECT_NEAR(g.err_b, 1e-3, 1e-12);
  EXPECT_EQ(g.ratio, 3);
  EXPECT_LT(g.floor, 1e-15);
  EXPECT_NEAR(g.threshold, 3e-3, 1e-12);
  EXPECT_GT(g.use(), 1.0);
  EXPECT_NE(g.reason.find("err_c"), std::string::npos);
}

TEST(Gate, DqErrorTwoPointNineTimesBaselinePasses) {
  const CaseComparison c = dq_error_ratio_case(2.9);
  EXPECT_TRUE(c.passed);
  EXPECT_LT(find(c, "dq").gate.use(), 1.0);
}

TEST(Gate, OutUsesRatioTwo) {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::f64, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::f64);
  test::add_value(tensor_of(base, kOut), flat_index(tensor_of(base, kOut), 0, 0, 0, 0), 1e-3);
  test::add_value(tensor_of(cand, kOut), flat_index(tensor_of(cand, kOut), 0, 0, 0, 0), 2.5e-3);
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_EQ(c.failed_tensors(), std::vector<std::string>{"out"});
}

TEST(Gate, FloorAllowsBf16RoundingWhenTheBaselineIsExact) {
  // A baseline equal to the reference gives err_b = 0; bf16 rounding of the candidate must
  // still pass thanks to the floor (2 x |(x + 0.3 - 0.3) - x| in bf16 >= one rounding).
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "exact", data::DType::f64, "zeros");
  const auto cand = rounded_producer(s.reference, "flash");
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(find(c, "dq").gate.err_b, 0);
  EXPECT_GT(find(c, "dq").gate.floor, 0);
  GateProfile no_floor = default_bf16_profile();
  no_floor.floor_ulps = 0;
  no_floor.floor_factor = 0;
  EXPECT_FALSE(compare_case(s.inputs, s.reference, cand, &base, no_floor).passed);
}

TEST(Gate, ScaledFloorOffsetFollowsTheTensorScale) {
  // Scale dq down by 2^-10: the absolute-offset floor stays ~1e-3 while the scaled one shrinks
  // with the tensor (both in bf16).
  auto s = make_synthetic();
  test::transform_values(tensor_of(s.reference, kDq), [](double v) { return v * std::ldexp(1.0, -10); });
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  const auto cand = rounded_producer(s.reference, "flash");
  GateProfile offset = default_bf16_profile();
  offset.floor_ulps = 0;  // the offset form of the floor
  GateProfile scaled = offset;
  scaled.floor_offset_scaled = true;
  const CaseComparison a = compare_case(s.inputs, s.reference, cand, &base, offset);
  const auto& abs_dq = find(a, "dq");
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, scaled);
  const auto& sc_dq = find(c, "dq");
  EXPECT_GT(abs_dq.gate.floor, 5e-4);
  EXPECT_LT(sc_dq.gate.floor, abs_dq.gate.floor * std::ldexp(1.0, -8));
  EXPECT_GT(sc_dq.gate.floor, 0);
  // The floor is 2 x |(x + o - o) - x| for some element, o = 0.3 max|ref|, so never above
  // 2 x (bf16 step at 1.3 max|ref|).
  EXPECT_LE(sc_dq.gate.floor, 2 * std::ldexp(1.0, -7) * 1.3 * sc_dq.reference_max_abs * 2);
  EXPECT_TRUE(c.passed);
}

TEST(Gate, NanInCandidateFailsWhateverTheThreshold) {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  test::transform_values(tensor_of(base, kDq), [](double v) { return v + 100; });  // a huge threshold
  auto cand = rounded_producer(s.reference, "flash");
  data::Tensor& cq = tensor_of(cand, kDq);
  test::set_value(cq, flat_index(cq, 0, 1, 2, 3), std::nan(""));
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_EQ(c.failed_tensors(), std::vector<std::string>{"dq"});
  EXPECT_NE(find(c, "dq").gate.reason.find("1 NaN"), std::string::npos);
}

TEST(Gate, NonFiniteBaselineFailsTheRelativeRule) {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  data::Tensor& bq = tensor_of(base, kDq);
  test::set_value(bq, flat_index(bq, 0, 0, 0, 0), INFINITY);
  const auto cand = rounded_producer(s.reference, "flash");
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_EQ(c.failed_tensors(), std::vector<std::string>{"dq"});
  EXPECT_NE(find(c, "dq").gate.reason.find("baseline"), std::string::npos);
}

TEST(Gate, OnlyValidRowsDecideTheVerdict) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  auto cand = rounded_producer(s.reference, "eager", data::DType::bf16, "unspecified");
  const CaseComparison clean = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  for (const TensorId& id : output_tensor_ids(2)) {
    data::Tensor& x = tensor_of(cand, id);
    test::set_value(x, flat_index(x, 1, 1, 12, 0), 1e4);  // row 12 of batch 1 is invalid (9 valid rows)
    test::set_value(x, flat_index(x, 0, 0, 15, 0), std::nan(""));
  }
  const CaseComparison dirty = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_TRUE(clean.passed);
  EXPECT_TRUE(dirty.passed);
  for (size_t i = 0; i < clean.tensors.size(); ++i)
    EXPECT_EQ(clean.tensors[i].gate.err_c, dirty.tensors[i].gate.err_c);
  EXPECT_FALSE(dirty.invalid_rows.checked);  // unspecified: not checked
}

TEST(Gate, ZerosProducerWithValuesOnInvalidRowsFailsUnlessWarned) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::bf16, "zeros");
  data::Tensor& out = tensor_of(cand, kOut);
  test::set_value(out, flat_index(out, 1, 0, 10, 3), -0.25);
  test::set_value(out, flat_index(out, 1, 2, 15, 0), 0.125);
  data::Tensor& dk0 = tensor_of(cand, {TensorKind::dk, 0});
  test::set_value(dk0, flat_index(dk0, 0, 1, 14, 0), 1e-6);
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_TRUE(c.failed_tensors().empty());  // the tensors' rules judge valid rows only...
  EXPECT_FALSE(c.passed);                   // ...and the violated declaration fails the case
  EXPECT_TRUE(c.invalid_rows_failed());
  ASSERT_TRUE(c.invalid_rows.checked);
  EXPECT_FALSE(c.invalid_rows.passed);
  CompareOptions warn;
  warn.enforce_invalid_rows = false;
  const CaseComparison w = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile(), warn);
  EXPECT_TRUE(w.passed);  // --invalid-rows warn: reported only
  EXPECT_FALSE(w.invalid_rows.passed);
  for (const auto& t : c.invalid_rows.tensors) {
    if (t.name == "out") {
      EXPECT_EQ(t.violations, 2);
      EXPECT_EQ(t.max_abs, 0.25);
      EXPECT_EQ(t.elements, (2 + 7) * 4 * 8);  // (2 + 7) invalid rows x H x D
      EXPECT_EQ(t.rows, 2);
      EXPECT_EQ(t.worst_at, "b=1 h=0 i=10 d=3");
      EXPECT_NE(t.rows_text.find("b=1 rows 10-15"), std::string::npos) << t.rows_text;
    } else if (t.name == "dk0") {
      EXPECT_EQ(t.violations, 1);
    } else {
      EXPECT_EQ(t.violations, 0) << t.name;
    }
  }
  const auto clean = rounded_producer(s.reference, "flash", data::DType::bf16, "zeros");
  EXPECT_TRUE(compare_case(s.inputs, s.reference, clean, &base, default_bf16_profile()).invalid_rows.passed);
}

TEST(Gate, UnknownInvalidRowsDeclarationIsAnInputError) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  const auto cand = rounded_producer(s.reference, "flash", data::DType::bf16, "zero");
  EXPECT_THROW(compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile()), data::InputError);
  const auto none = rounded_producer(s.reference, "flash", data::DType::bf16, "");
  const CaseComparison c = compare_case(s.inputs, s.reference, none, &base, default_bf16_profile());
  EXPECT_EQ(c.invalid_rows.declared, "unspecified");
  EXPECT_FALSE(c.invalid_rows.declared_explicitly);
}

TEST(Gate, MissingBaselineUnderRelativeProfileIsAnInputError) {
  const auto s = make_synthetic();
  const auto cand = rounded_producer(s.reference, "flash");
  EXPECT_THROW(compare_case(s.inputs, s.reference, cand, nullptr, default_bf16_profile()), data::InputError);
}

TEST(Gate, AbsoluteProfileNeedsNoBaseline) {
  const auto s = make_synthetic();
  auto cand = rounded_producer(s.reference, "flash", data::DType::f64);
  data::Tensor& cq = tensor_of(cand, kDq);
  test::add_value(cq, flat_index(cq, 0, 0, 0, 0), 0.02);
  GateProfile p;
  p.name = "abs-test";
  p.mode = GateProfile::Mode::absolute;
  p.rules["dq"] = {0, 0.01, 0.0};
  p.rules["out"] = {0, 0.0, 0.1};  // 0.1 x max|out|
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, nullptr, p);
  EXPECT_EQ(c.judged(), 2);
  EXPECT_EQ(c.failed_tensors(), std::vector<std::string>{"dq"});
  const auto& out = find(c, "out");
  EXPECT_DOUBLE_EQ(out.gate.atol, 0.1 * out.reference_max_abs);
  EXPECT_TRUE(std::isnan(out.gate.err_b));
  p.rules["dq"].atol = 0.03;
  EXPECT_TRUE(compare_case(s.inputs, s.reference, cand, nullptr, p).passed);
}

TEST(Gate, ProfileJudgesOnlyTheTensorsItLists) {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::f64, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::f64);
  test::add_value(tensor_of(cand, kOut), 0, 1.0);  // out is bad but not judged
  GateProfile p = default_bf16_profile();
  p.rules = {{"dq", {3, 0, 0}}, {"dk1", {3, 0, 0}}};
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, p);
  EXPECT_EQ(c.judged(), 2);
  EXPECT_TRUE(c.passed);
  EXPECT_FALSE(find(c, "out").gate.judged);
}

TEST(Gate, SingletonBlocksAreSeparateTensors) {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::f64, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::f64);
  data::Tensor& dv2 = tensor_of(cand, {TensorKind::dv, 2});
  test::add_value(dv2, flat_index(dv2, 1, 1, 8, 5), 0.01);  // row 8 of batch 1: the last valid row
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_EQ(c.failed_tensors(), std::vector<std::string>{"dv2"});
  EXPECT_EQ(find(c, "dv2").worst.at(0).block, 2);
}

TEST(Gate, UlpFloorIsThatManySpacingsAtTheLargestReference) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "exact", data::DType::f64, "zeros");
  const auto cand = rounded_producer(s.reference, "flash");  // bf16
  GateProfile p = default_bf16_profile();
  p.floor_ulps = 3;
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, p);
  for (const auto& t : c.tensors) {
    if (t.name == "lse") continue;  // lse is kept in fp32 by the producer
    EXPECT_EQ(t.gate.floor, 3 * ulp_at(data::DType::bf16, t.reference_max_abs)) << t.name;
    // With err_b = 0 the floor is the whole threshold; bf16 rounding is within half a spacing
    // of max|ref|, so it passes with 3 ulps.
    EXPECT_EQ(t.gate.threshold, t.gate.floor) << t.name;
  }
  EXPECT_TRUE(c.passed);
}

// A budget file with one key; the budgets of the others are absent.
GateProfile with_flash_budget(double dq_budget) {
  GateProfile p = default_bf16_profile();
  p.budgets = std::make_shared<ErrorBudgets>(parse_budgets(
      R"({"schema": "attn-harness.budgets/1", "profile": "t",
          "budgets": {"flash/cuda": {"out": 1, "lse": 1, "dq": )" + std::to_string(dq_budget) +
          R"(, "dk": 1, "dv": 1}}})",
      "test budgets"));
  return p;
}

CaseComparison dq_off_by(double relative_error, const GateProfile& p, const std::string& device) {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::f64, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::f64);
  cand.provenance["device"] = device;
  data::Tensor& bq = tensor_of(base, kDq);
  data::Tensor& cq = tensor_of(cand, kDq);
  double max_abs = 0;
  for (int64_t i = 0; i < cq.numel(); ++i) max_abs = std::max(max_abs, std::abs(cq.at(i)));
  // The baseline is 10x worse than the candidate: the relative rule alone passes easily.
  test::add_value(bq, flat_index(bq, 0, 0, 5, 1), 10 * relative_error * max_abs);
  test::add_value(cq, flat_index(cq, 1, 2, 3, 7), relative_error * max_abs);
  return compare_case(s.inputs, s.reference, cand, &base, p);
}

TEST(Gate, ABudgetTightensTheRuleForItsBackend) {
  const GateProfile p = with_flash_budget(1e-2);
  const CaseComparison within = dq_off_by(0.5e-2, p, "cuda:0");
  EXPECT_EQ(within.budget_key, "flash/cuda");
  EXPECT_TRUE(within.budgets_apply);
  EXPECT_TRUE(within.passed);
  EXPECT_EQ(find(within, "dq").gate.bound, "budget");
  EXPECT_EQ(find(within, "dq").gate.budget, 1e-2);

  const CaseComparison over = dq_off_by(2e-2, p, "cuda:0");
  EXPECT_EQ(over.failed_tensors(), std::vector<std::string>{"dq"});
  const GateVerdict& g = find(over, "dq").gate;
  EXPECT_LT(g.budget_threshold, g.rule_threshold);
  EXPECT_NE(g.reason.find("budget"), std::string::npos) << g.reason;
}

TEST(Gate, WithoutABudgetForItsKeyTheRuleAloneJudges) {
  const GateProfile p = with_flash_budget(1e-2);
  const CaseComparison c = dq_off_by(2e-2, p, "cpu");  // flash/cpu has no budget here
  EXPECT_EQ(c.budget_key, "flash/cpu");
  EXPECT_FALSE(c.budgets_apply);
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(find(c, "dq").gate.budget, 0);
  EXPECT_EQ(find(c, "dq").gate.bound, "rule");
}

TEST(Gate, BudgetFilesAreCheckedOnLoad) {
  const auto bad = [](const std::string& text) {
    EXPECT_THROW(parse_budgets(text, "b"), data::InputError) << text;
  };
  bad("not json");
  bad(R"({"schema": "attn-harness.budgets/2", "budgets": {}})");
  bad(R"({"schema": "attn-harness.budgets/1"})");
  bad(R"({"schema": "attn-harness.budgets/1", "budgets": {"flash": {"dq": 1}}})");
  bad(R"({"schema": "attn-harness.budgets/1", "budgets": {"flash/cuda": {"dx": 1}}})");
  bad(R"({"schema": "attn-harness.budgets/1", "budgets": {"flash/cuda": {"dq": -1}}})");
  EXPECT_EQ(budget_key({{"backend", "sdpa"}, {"device", "cuda:1"}}), "sdpa/cuda");
  EXPECT_EQ(budget_key({{"backend", "sdpa"}, {"device", "cpu"}}), "sdpa/cpu");
  EXPECT_EQ(budget_key({{"backend", "sdpa"}}), "sdpa/unknown");
}

}  // namespace
}  // namespace attn::report

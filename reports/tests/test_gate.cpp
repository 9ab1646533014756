// The gate rule over a whole case: relative and absolute profiles, the floor, NaN, valid rows
// only, the invalid-row contract check, and missing-baseline errors.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/errors.hpp"
#include "reports/case_comparison.hpp"
#include "reports/gate_rule.hpp"
#include "reports/tests/synthetic_case.hpp"

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
  GateProfile scaled = default_bf16_profile();
  scaled.floor_offset_scaled = true;
  const CaseComparison a = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
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

TEST(Gate, ZerosProducerWithValuesOnInvalidRowsIsReportedNotGated) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::bf16, "zeros");
  data::Tensor& out = tensor_of(cand, kOut);
  test::set_value(out, flat_index(out, 1, 0, 10, 3), -0.25);
  test::set_value(out, flat_index(out, 1, 2, 15, 0), 0.125);
  data::Tensor& dk0 = tensor_of(cand, {TensorKind::dk, 0});
  test::set_value(dk0, flat_index(dk0, 0, 1, 14, 0), 1e-6);
  const CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  EXPECT_TRUE(c.passed);  // the gate judges valid rows only
  ASSERT_TRUE(c.invalid_rows.checked);
  EXPECT_FALSE(c.invalid_rows.passed);
  for (const auto& t : c.invalid_rows.tensors) {
    if (t.name == "out") {
      EXPECT_EQ(t.violations, 2);
      EXPECT_EQ(t.max_abs, 0.25);
      EXPECT_EQ(t.elements, (2 + 7) * 4 * 8);  // (2 + 7) invalid rows x H x D
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

}  // namespace
}  // namespace attn::report

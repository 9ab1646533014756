// Per-tensor views: valid rows only, worst-K order and coordinates, regions, NaN counts,
// cosine / old rule, assert_close mismatch counts, relative error floor.
#include <gtest/gtest.h>

#include <cmath>

#include "datasets/errors.hpp"
#include "reports/accuracy/tensor_comparison.hpp"
#include "reports/accuracy/tests/synthetic_case.hpp"

namespace attn::report {
namespace {

using test::flat_index;
using test::make_synthetic;

const TensorId kDq{TensorKind::dq, -1};
const TensorId kDk1{TensorKind::dk, 1};
const TensorId kLse{TensorKind::lse, -1};

struct Fixture {
  test::Synthetic s = make_synthetic();
  std::vector<int64_t> rows = valid_rows(s.inputs.valid_len, s.inputs.config.t);
  data::Tensor ref(const TensorId& id) { return select_tensor(s.reference.outputs, id, "ref"); }
  data::Tensor f64_copy(const TensorId& id) { return ref(id).clone(); }
};

TEST(TensorComparison, ExactCopyHasZeroErrorAndCountsValidElementsOnly) {
  Fixture f;
  const data::Tensor r = f.ref(kDq), c = f.f64_copy(kDq);
  const TensorComparison tc = compare_tensor(kDq, r, c, nullptr, f.rows, 2, {});
  EXPECT_EQ(tc.valid_elements, (14 + 9) * 4 * 8);  // (valid rows) x H x D
  EXPECT_EQ(tc.candidate.max_abs, 0);
  EXPECT_EQ(tc.candidate.ulp_max, 0);
  EXPECT_EQ(tc.candidate.histogram.zero, tc.valid_elements);
  EXPECT_DOUBLE_EQ(tc.candidate.cosine, 1.0);
  EXPECT_TRUE(tc.candidate.old_rule_pass);
  EXPECT_EQ(tc.candidate.assert_close_mismatches, 0);
}

TEST(TensorComparison, GarbageOnInvalidRowsIsNotJudged) {
  Fixture f;
  const data::Tensor r = f.ref(kDq);
  data::Tensor c = f.f64_copy(kDq);
  test::set_value(c, flat_index(c, 1, 0, 9, 0), 1e6);               // row 9 of batch 1: invalid
  test::set_value(c, flat_index(c, 1, 3, 15, 7), std::nan(""));      // last row: invalid
  test::set_value(c, flat_index(c, 0, 2, 15, 1), -7);               // batch 0 rows >= 14: invalid
  const TensorComparison tc = compare_tensor(kDq, r, c, nullptr, f.rows, 2, {});
  EXPECT_EQ(tc.candidate.max_abs, 0);
  EXPECT_EQ(tc.candidate.nan, 0);
}

TEST(TensorComparison, NanAndInfAreCountedAndDominate) {
  Fixture f;
  const data::Tensor r = f.ref(kDq);
  data::Tensor c = f.f64_copy(kDq);
  test::set_value(c, flat_index(c, 0, 1, 3, 2), std::nan(""));
  test::set_value(c, flat_index(c, 1, 2, 8, 0), -INFINITY);
  const TensorComparison tc = compare_tensor(kDq, r, c, nullptr, f.rows, 2, {});
  EXPECT_EQ(tc.candidate.nan, 1);
  EXPECT_EQ(tc.candidate.inf, 1);
  EXPECT_TRUE(std::isinf(tc.candidate.max_abs));
  EXPECT_EQ(tc.candidate.histogram.nonfinite, 2);
  EXPECT_FALSE(tc.candidate.old_rule_pass);
  EXPECT_EQ(tc.candidate.assert_close_mismatches, 2);
  ASSERT_GE(tc.worst.size(), 2u);
  EXPECT_TRUE(std::isinf(tc.worst[0].abs_err));
  EXPECT_EQ(tc.worst[0].b, 0);  // equal (infinite) errors: the lower flat index first
  EXPECT_EQ(tc.worst[1].b, 1);
}

TEST(TensorComparison, WorstKOrderAndCoordinates) {
  Fixture f;
  const data::Tensor r = f.ref(kDk1);
  data::Tensor c = f.f64_copy(kDk1), base = f.f64_copy(kDk1);
  test::add_value(c, flat_index(c, 1, 1, 4, 6), 0.03);
  test::add_value(c, flat_index(c, 0, 0, 13, 0), -(0.05));
  test::add_value(c, flat_index(c, 0, 1, 2, 3), 0.01);
  test::add_value(c, flat_index(c, 0, 1, 2, 4), 0.01);  // tie with the previous one: later index
  test::add_value(base, flat_index(c, 0, 0, 13, 0), 0.001);
  CompareOptions o;
  o.worst_k = 3;
  const TensorComparison tc = compare_tensor(kDk1, r, c, &base, f.rows, 1, o);
  ASSERT_EQ(tc.worst.size(), 3u);
  const WorstElement& w0 = tc.worst[0];
  EXPECT_EQ(w0.b, 0);
  EXPECT_EQ(w0.head, 0);
  EXPECT_EQ(w0.row, 13);
  EXPECT_EQ(w0.col, 0);
  EXPECT_EQ(w0.block, 1);
  EXPECT_NEAR(w0.abs_err, 0.05, 1e-12);
  EXPECT_EQ(w0.reference, test::value(r, flat_index(r, 0, 0, 13, 0)));
  EXPECT_NEAR(w0.baseline - w0.reference, 0.001, 1e-12);
  EXPECT_EQ(tc.worst[1].row, 4);
  EXPECT_EQ(tc.worst[1].col, 6);
  EXPECT_EQ(tc.worst[2].row, 2);
  EXPECT_EQ(tc.worst[2].col, 3);  // of the tied pair, the lower index
}

TEST(TensorComparison, LseWorstHasNoColumn) {
  Fixture f;
  const data::Tensor r = f.ref(kLse);
  data::Tensor c = f.f64_copy(kLse);
  test::add_value(c, flat_index(c, 1, 3, 5), 0.5);
  const TensorComparison tc = compare_tensor(kLse, r, c, nullptr, f.rows, 2, {});
  ASSERT_FALSE(tc.worst.empty());
  EXPECT_EQ(tc.worst[0].col, -1);
  EXPECT_EQ(tc.worst[0].head, 3);
  EXPECT_EQ(tc.worst[0].row, 5);
  EXPECT_EQ(tc.worst[0].block, -1);
}

TEST(TensorComparison, RegionsByDecileAndGqaGroup) {
  Fixture f;  // max valid rows 14: deciles are rows 0-1, 2-2, 3-4, 5-5, 6-6, 7-8, 9-9, 10-11, 12-12, 13-13
  const data::Tensor r = f.ref(kDq);
  data::Tensor c = f.f64_copy(kDq);
  test::add_value(c, flat_index(c, 0, 3, 13, 0), 0.25);  // head 3 -> group 1, last decile
  const TensorComparison tc = compare_tensor(kDq, r, c, nullptr, f.rows, 2, {});
  int64_t row_elements = 0;
  for (const auto& reg : tc.regions) {
    if (reg.kind == "rows") {
      row_elements += reg.elements;
      EXPECT_NEAR(reg.candidate_max_abs, reg.first <= 13 && 13 <= reg.last ? 0.25 : 0.0, 1e-12) << reg.label;
    } else if (reg.kind == "group") {
      EXPECT_NEAR(reg.candidate_max_abs, reg.first == 1 ? 0.25 : 0.0, 1e-12) << reg.label;
      EXPECT_TRUE(std::isnan(reg.baseline_max_abs));
    } else {
      EXPECT_EQ(reg.kind, "head");
      EXPECT_NEAR(reg.candidate_max_abs, reg.first == 3 ? 0.25 : 0.0, 1e-12) << reg.label;
    }
  }
  EXPECT_EQ(row_elements, tc.valid_elements);
  EXPECT_EQ(tc.regions.back().label, "head 3");
  EXPECT_EQ(tc.regions.front().label, "rows 0-1");
}

TEST(TensorComparison, CosineNormRatioAndOldRule) {
  Fixture f;
  const data::Tensor r = f.ref(kDq);
  data::Tensor up3 = f.f64_copy(kDq), up1 = f.f64_copy(kDq);
  test::transform_values(up3, [](double v) { return v * 1.03; });
  test::transform_values(up1, [](double v) { return v * 1.01; });
  const TensorComparison a = compare_tensor(kDq, r, up3, nullptr, f.rows, 2, {});
  const TensorComparison b = compare_tensor(kDq, r, up1, nullptr, f.rows, 2, {});
  EXPECT_NEAR(a.candidate.cosine, 1.0, 1e-12);
  EXPECT_NEAR(a.candidate.norm_ratio, 1.03, 1e-12);
  EXPECT_FALSE(a.candidate.old_rule_pass);  // |1.03 - 1| > 2.5 %
  EXPECT_TRUE(b.candidate.old_rule_pass);
  // assert_close: |0.03 x| > 1e-5 + 0.016 |x| for every |x| > 7.2e-4; 1 % stays inside.
  int64_t expect_mismatch = 0;
  for (int64_t bb = 0; bb < 2; ++bb)
    for (int64_t h = 0; h < 4; ++h)
      for (int64_t i = 0; i < f.rows[size_t(bb)]; ++i)
        for (int64_t d = 0; d < 8; ++d) {
          const double x = test::value(r, flat_index(r, bb, h, i, d));
          expect_mismatch += std::fabs(0.03 * x) > 1e-5 + 1.6e-2 * std::fabs(x);
        }
  EXPECT_EQ(a.candidate.assert_close_mismatches, expect_mismatch);
  EXPECT_GT(expect_mismatch, 0);
  EXPECT_EQ(b.candidate.assert_close_mismatches, 0);
}

TEST(TensorComparison, RelativeErrorUsesTheFloor) {
  Fixture f;
  data::Tensor r = f.ref(kDq).clone();
  data::Tensor c = r.clone();
  const size_t at = flat_index(r, 0, 0, 0, 0);
  test::set_value(r, at, 0.0);  // a zero crossing
  test::set_value(c, at, 1e-3);
  CompareOptions o;
  o.relative_floor_fraction = 0.5;
  const TensorComparison tc = compare_tensor(kDq, r, c, nullptr, f.rows, 2, o);
  EXPECT_DOUBLE_EQ(tc.relative_floor, 0.5 * tc.reference_max_abs);
  EXPECT_DOUBLE_EQ(tc.candidate.max_rel, 1e-3 / tc.relative_floor);
}

TEST(TensorComparison, ShapeMismatchIsAnInputError) {
  Fixture f;
  const data::Tensor r = f.ref(kDq);
  const data::Tensor c = data::Tensor::zeros(r.dtype, {r.shape[0], r.shape[1], r.shape[2], 4});
  EXPECT_THROW(compare_tensor(kDq, r, c, nullptr, f.rows, 2, {}), data::InputError);
}

}  // namespace
}  // namespace attn::report

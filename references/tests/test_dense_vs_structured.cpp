// (a) The dense explicit-mask form and the structured TTT form agree to 1e-12 relative
// (max |structured - dense| / max |dense|, per tensor) on GQA, padding, t = 0 / 6, odd L with
// several tiles and a partial one, and D = 64 / 102 / 128.
#include <gtest/gtest.h>

#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"
#include "references/tests/ttt_case.hpp"

namespace attn::ref {
namespace {

using testing::expect_identical;
using testing::rel_err;
using testing::ShiftedInputs;
using testing::TttCase;

struct AgreementParam {
  const char* name;
  TttShape shape;
  std::vector<int64_t> valid_len;
  int64_t tile;
};

std::ostream& operator<<(std::ostream& os, const AgreementParam& p) { return os << p.name; }

class DenseVsStructured : public ::testing::TestWithParam<AgreementParam> {};

/// Checks every tensor to `tol` relative and returns the largest relative error seen.
double expect_agree(const TttResult& got, const TttResult& ref, const TttShape& sh, double tol) {
  double worst = 0.0;
  auto check = [&](const std::vector<double>& a, const std::vector<double>& b,
                   const std::string& name) {
    const double e = rel_err(a, b);
    worst = std::max(worst, e);
    EXPECT_LE(e, tol) << name;
  };
  check(got.out, ref.out, "out");
  check(got.lse, ref.lse, "lse");
  check(got.dq, ref.dq, "dq");
  EXPECT_EQ(got.dk.size(), static_cast<size_t>(sh.blocks()));
  EXPECT_EQ(got.dv.size(), static_cast<size_t>(sh.blocks()));
  for (size_t m = 0; m < got.dk.size() && m < ref.dk.size(); ++m)
    check(got.dk[m], ref.dk[m], "dk[" + std::to_string(m) + "]");
  for (size_t m = 0; m < got.dv.size() && m < ref.dv.size(); ++m)
    check(got.dv[m], ref.dv[m], "dv[" + std::to_string(m) + "]");
  return worst;
}

TEST_P(DenseVsStructured, AgreeTo1e12) {
  const AgreementParam& p = GetParam();
  const TttCase c = TttCase::random(p.shape, p.valid_len, /*seed=*/0x5eed0000u + p.shape.L);
  const TttInputs in = c.inputs();
  const TttResult dense = dense_reference(in);
  StructuredOptions opt;
  opt.tile = p.tile;
  const TttResult structured = structured_reference(in, opt);

  // The comparison is not vacuous: every tensor with a contribution is non-zero.
  bool any_valid = false;
  for (int64_t b = 0; b < p.shape.B; ++b) any_valid |= valid_rows(in, b) > 0;
  ASSERT_TRUE(any_valid) << "case has no valid row";
  EXPECT_GT(testing::max_abs(dense.out), 0.0);
  EXPECT_GT(testing::max_abs(dense.dq), 0.0);
  for (int64_t m = 0; m < p.shape.blocks(); ++m) {
    EXPECT_GT(testing::max_abs(dense.dk[m]), 0.0) << "dk[" << m << "]";
    EXPECT_GT(testing::max_abs(dense.dv[m]), 0.0) << "dv[" << m << "]";
  }
  const double worst = expect_agree(structured, dense, p.shape, 1e-12);
  RecordProperty("max_rel_err", std::to_string(worst));
  std::cout << "[ max rel err ] " << worst << "\n";
}

TEST_P(DenseVsStructured, ForwardOnlyMatchesAndLeavesGradientsZero) {
  const AgreementParam& p = GetParam();
  const TttCase c = TttCase::random(p.shape, p.valid_len, 77);
  const TttResult full = structured_reference(c.inputs(true), testing::tiled(p.tile));
  for (const TttResult& fwd : {dense_reference(c.inputs(false)),
                               structured_reference(c.inputs(false), testing::tiled(p.tile))}) {
    EXPECT_LE(rel_err(fwd.out, full.out), 1e-12);
    EXPECT_LE(rel_err(fwd.lse, full.lse), 1e-12);
    EXPECT_EQ(testing::max_abs(fwd.dq), 0.0);
    for (int64_t m = 0; m < p.shape.blocks(); ++m) {
      EXPECT_EQ(testing::max_abs(fwd.dk[m]), 0.0);
      EXPECT_EQ(testing::max_abs(fwd.dv[m]), 0.0);
    }
  }
}

TttShape shape(int64_t B, int64_t H, int64_t Hkv, int64_t L, int64_t D, int64_t t) {
  TttShape s;
  s.B = B, s.H = H, s.Hkv = Hkv, s.L = L, s.D = D, s.t = t;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DenseVsStructured,
    ::testing::Values(
        // GQA 4:2, t = 6, L = 37: tiles of 16 -> 16, 16, partial; batch 1 padded.
        AgreementParam{"gqa4x2_L37_D64_t6_pad", shape(2, 4, 2, 37, 64, 6), {37, 20}, 16},
        // GQA 6:1, t = 0 (pure causal), L = 129, D = 102, one element fully padded.
        AgreementParam{"gqa6x1_L129_D102_t0_pad", shape(3, 6, 1, 129, 102, 0), {129, 50, 0}, 16},
        // D = 128, t = 6, valid_len - t <= 0 for two batch elements.
        AgreementParam{"mha_L37_D128_t6_short", shape(3, 2, 2, 37, 128, 6), {37, 5, 6}, 16},
        // Several tiles and a partial one at L = 129 (n = 123 and 94), GQA.
        AgreementParam{"gqa4x2_L129_D128_t6", shape(2, 4, 2, 129, 128, 6), {129, 100}, 16},
        // One tile larger than n; tile = 1 (every tile is a diagonal tile).
        AgreementParam{"mha_L64_D64_t2_bigtile", shape(1, 1, 1, 64, 64, 2), {64}, 128},
        AgreementParam{"mha_L19_D64_t3_tile1", shape(2, 2, 1, 19, 64, 3), {19, 11}, 1}),
    [](const ::testing::TestParamInfo<AgreementParam>& info) { return info.param.name; });

TEST(StructuredReference, BitwiseReproducibleAcrossThreadsAndBufferAddresses) {
  // D = 64 with 16-row tiles; D = 5 with 4-row tiles and one-row last tiles (n = 9, 5).
  struct Setup {
    TttShape shape;
    std::vector<int64_t> valid_len;
    int64_t tile;
  };
  for (const Setup& su : {Setup{shape(2, 4, 2, 70, 64, 3), {70, 41}, 16},
                          Setup{shape(2, 2, 1, 12, 5, 3), {12, 8}, 4}}) {
    SCOPED_TRACE("D = " + std::to_string(su.shape.D));
    const TttCase c = TttCase::random(su.shape, su.valid_len, 123);
    const TttResult one = structured_reference(c.inputs(), testing::tiled(su.tile, 1));
    expect_identical(structured_reference(c.inputs(), testing::tiled(su.tile, 2)), one);
    for (size_t shift = 1; shift < 8; ++shift) {
      SCOPED_TRACE("shift " + std::to_string(shift));
      const ShiftedInputs moved(c, shift);
      expect_identical(structured_reference(moved.in, testing::tiled(su.tile, 2)), one);
    }
    expect_agree(structured_reference(c.inputs(), testing::tiled(3 * su.tile, 2)), one, c.shape,
                 1e-13);
  }
}

TEST(StructuredReference, IntoOverwritesAStaleResult) {
  const TttCase c = TttCase::random(shape(2, 2, 1, 33, 64, 2), {33, 9}, 5);
  const TttInputs in = c.inputs();
  const TttResult fresh = structured_reference(in, testing::tiled(8));
  TttResult stale = TttResult::zeros(in.shape);
  for (auto* x : {&stale.out, &stale.lse, &stale.dq}) std::fill(x->begin(), x->end(), 3.0);
  for (auto& x : stale.dk) std::fill(x.begin(), x.end(), -1.0);
  for (auto& x : stale.dv) std::fill(x.begin(), x.end(), 2.0);
  structured_reference_into(in, stale, testing::tiled(8));
  expect_identical(stale, fresh);
}

TEST(StructuredReference, IntoRejectsAResultOfTheWrongShape) {
  const TttCase c = TttCase::random(shape(1, 2, 1, 8, 4, 1), {8}, 5);
  TttShape other = c.shape;
  other.L = 9;
  TttResult wrong = TttResult::zeros(other);
  try {
    structured_reference_into(c.inputs(), wrong);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("result.out"), std::string::npos) << e.what();
  }
}

TEST(StructuredReference, ProgressIsReportedFromTheCallingThreadOnly) {
  const TttCase c = TttCase::random(shape(3, 4, 4, 20, 8, 1), {20, 15, 10}, 9);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::pair<int64_t, int64_t>> calls;
  std::set<std::thread::id> ids;
  StructuredOptions opt;
  opt.tile = 4;
  opt.threads = 2;
  opt.schedule = StructuredSchedule::fused;  // 12 units (b, kv head); the split schedule's
                                             // progress: test_structured_schedules.cpp
  opt.progress = [&](int64_t done, int64_t total) {
    ids.insert(std::this_thread::get_id());  // not synchronised: a second thread would be a bug
    calls.emplace_back(done, total);
  };
  structured_reference(c.inputs(), opt);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(ids, std::set<std::thread::id>{caller});
  EXPECT_EQ(calls.back(), (std::pair<int64_t, int64_t>(12, 12)));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LT(calls[i - 1].first, calls[i].first);
}

TEST(StructuredReference, AnExceptionFromProgressPropagatesToTheCaller) {
  const TttCase c = TttCase::random(shape(1, 2, 2, 8, 4, 0), {8}, 9);
  StructuredOptions opt;
  opt.progress = [](int64_t, int64_t) { throw std::runtime_error("cancelled"); };
  EXPECT_THROW(structured_reference(c.inputs(), opt), std::runtime_error);
}

TEST(StructuredReference, FlopsFollowTheFormula) {
  const TttCase c = TttCase::random(shape(2, 4, 2, 10, 8, 3), {10, 2}, 1);
  // b = 0: n = 7; b = 1: n = 0.  4 heads * 12 * 8 * (7 * 8 / 2 + 7 * 3).
  EXPECT_DOUBLE_EQ(structured_flops(c.inputs()), 4.0 * 12 * 8 * (28 + 21));
}

}  // namespace
}  // namespace attn::ref

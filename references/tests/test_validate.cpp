// (e) validate() rejects inconsistent inputs with std::invalid_argument whose message names
// the field, and both references validate before touching anything.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"
#include "references/tests/ttt_case.hpp"

namespace attn::ref {
namespace {

using testing::TttCase;

TttCase good_case() {
  TttShape s;
  s.B = 2, s.H = 4, s.Hkv = 2, s.L = 8, s.D = 4, s.t = 2;
  return TttCase::random(s, {8, 5}, 3);
}

/// `mutate` breaks one thing; the throw must name `field` (and say what was found).
void expect_rejected(const std::function<void(TttInputs&)>& mutate, const std::string& field,
                     const std::string& found) {
  const TttCase c = good_case();
  TttInputs in = c.inputs();
  ASSERT_NO_THROW(validate(in));
  mutate(in);
  for (const auto& call :
       std::vector<std::function<void()>>{[&] { validate(in); }, [&] { dense_reference(in); },
                                          [&] { structured_reference(in); }}) {
    try {
      call();
      ADD_FAILURE() << "no exception for a bad " << field;
    } catch (const std::invalid_argument& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(field), std::string::npos) << "message: " << msg;
      EXPECT_NE(msg.find("expected"), std::string::npos) << "message: " << msg;
      EXPECT_NE(msg.find(found), std::string::npos) << "message: " << msg;
    }
  }
}

TEST(Validate, AcceptsAGoodCaseAndNullGradOut) {
  const TttCase c = good_case();
  EXPECT_NO_THROW(validate(c.inputs(true)));
  EXPECT_NO_THROW(validate(c.inputs(false)));
}

TEST(Validate, RejectsHNotAMultipleOfHkv) {
  expect_rejected([](TttInputs& in) { in.shape.Hkv = 3; }, "shape.H", "found 4");
}
TEST(Validate, RejectsNonPositiveSizes) {
  expect_rejected([](TttInputs& in) { in.shape.D = 0; }, "shape.D", "found 0");
  expect_rejected([](TttInputs& in) { in.shape.L = -1; }, "shape.L", "found -1");
  expect_rejected([](TttInputs& in) { in.shape.t = -1; }, "shape.t", "found -1");
}
TEST(Validate, RejectsBadScale) {
  expect_rejected([](TttInputs& in) { in.scale = 0.0; }, "scale", "found 0");
  expect_rejected([](TttInputs& in) { in.scale = std::nan(""); }, "scale", "found");
}
TEST(Validate, RejectsNullPointers) {
  expect_rejected([](TttInputs& in) { in.q = nullptr; }, "TttInputs.q", "null");
  expect_rejected([](TttInputs& in) { in.k[1] = nullptr; }, "k[1]", "null");
  expect_rejected([](TttInputs& in) { in.v[2] = nullptr; }, "v[2]", "null");
}
TEST(Validate, RejectsWrongBlockCounts) {
  expect_rejected([](TttInputs& in) { in.k.pop_back(); }, "TttInputs.k", "found 2");
  expect_rejected([](TttInputs& in) { in.v.push_back(in.v[0]); }, "TttInputs.v", "found 4");
}
TEST(Validate, RejectsValidLen) {
  expect_rejected([](TttInputs& in) { in.valid_len = {8}; }, "valid_len", "found 1 entries");
  expect_rejected([](TttInputs& in) { in.valid_len[1] = 9; }, "valid_len[1]", "found 9");
  expect_rejected([](TttInputs& in) { in.valid_len[0] = -2; }, "valid_len[0]", "found -2");
}
TEST(Validate, StructuredRejectsBadTile) {
  const TttCase c = good_case();
  StructuredOptions opt;
  opt.tile = 0;
  try {
    structured_reference(c.inputs(), opt);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("tile"), std::string::npos) << e.what();
  }
}
TEST(Validate, ValidRowsClampsAtZero) {
  const TttCase c = good_case();  // t = 2, valid_len = {8, 5}
  TttInputs in = c.inputs();
  EXPECT_EQ(valid_rows(in, 0), 6);
  EXPECT_EQ(valid_rows(in, 1), 3);
  in.valid_len[1] = 1;
  EXPECT_EQ(valid_rows(in, 1), 0);
}

}  // namespace
}  // namespace attn::ref

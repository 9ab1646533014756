// (d) A case small enough to do by hand: B = 1, H = Hkv = 1, L = 3, D = 1, t = 1, s = 1,
// valid_len = 3, so rows 0 and 1 are valid and row 2 is not. The numbers are chosen so every
// exponential is an integer:
//   q  = [1, 1, 5]        k0 = [0, ln 2, 7]   v0 = [2, 4, 7]
//   g  = [1, 3, 7]        k1 = [0, ln 3, 7]   v1 = [6, 0, 7]
// Row 0: keys k0_0 (e^0 = 1) and singleton k1_0 (e^0 = 1): Z = 2, p00 = pi0 = 1/2.
//   out0 = (2 + 6) / 2 = 4, lse0 = ln 2; delta0 = 1 * 4 = 4;
//   ds00 = 1/2 (1*2 - 4) = -1, dc0 = 1/2 (1*6 - 4) = 1.
// Row 1: keys k0_0 (1), k0_1 (e^{ln 2} = 2), singleton k1_1 (e^{ln 3} = 3): Z = 6.
//   p10 = 1/6, p11 = 1/3, pi1 = 1/2; out1 = (2 + 8 + 0) / 6 = 5/3, lse1 = ln 6;
//   delta1 = 3 * 5/3 = 5; ds10 = 1/6 (6 - 5) = 1/6, ds11 = 1/3 (12 - 5) = 7/3,
//   dc1 = 1/2 (0 - 5) = -5/2.
// Gradients:
//   dq0 = ds00 k0_0 + dc0 k1_0 = 0;  dq1 = ds10 k0_0 + ds11 k0_1 + dc1 k1_1 = 7/3 ln 2 - 5/2 ln 3
//   dk0 = [ds00 q0 + ds10 q1, ds11 q1, 0] = [-5/6, 7/3, 0]
//   dv0 = [p00 g0 + p10 g1, p11 g1, 0] = [1, 1, 0]
//   dk1 = [dc0 q0, dc1 q1, 0] = [1, -5/2, 0];  dv1 = [pi0 g0, pi1 g1, 0] = [1/2, 3/2, 0]
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"
#include "references/tests/ttt_case.hpp"

namespace attn::ref {
namespace {

void check_hand_case(const std::function<TttResult(const TttInputs&)>& f) {
  const double ln2 = std::log(2.0), ln3 = std::log(3.0);
  const std::vector<double> q = {1, 1, 5}, g = {1, 3, 7};
  const std::vector<double> k0 = {0, ln2, 7}, v0 = {2, 4, 7}, k1 = {0, ln3, 7}, v1 = {6, 0, 7};
  TttInputs in;
  in.shape.B = 1, in.shape.H = 1, in.shape.Hkv = 1, in.shape.L = 3, in.shape.D = 1, in.shape.t = 1;
  in.scale = 1.0;
  in.q = q.data();
  in.k = {k0.data(), k1.data()};
  in.v = {v0.data(), v1.data()};
  in.grad_out = g.data();
  in.valid_len = {3};

  const TttResult r = f(in);
  const double tol = 1e-14;
  auto expect = [tol](const std::vector<double>& got, const std::vector<double>& want,
                      const char* name) {
    ASSERT_EQ(got.size(), want.size()) << name;
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], tol) << name << "[" << i << "]";
  };
  expect(r.out, {4.0, 5.0 / 3.0, 0.0}, "out");
  expect(r.lse, {ln2, std::log(6.0), 0.0}, "lse");
  expect(r.dq, {0.0, 7.0 / 3.0 * ln2 - 2.5 * ln3, 0.0}, "dq");
  expect(r.dk[0], {-5.0 / 6.0, 7.0 / 3.0, 0.0}, "dk0");
  expect(r.dv[0], {1.0, 1.0, 0.0}, "dv0");
  expect(r.dk[1], {1.0, -2.5, 0.0}, "dk1");
  expect(r.dv[1], {0.5, 1.5, 0.0}, "dv1");
}

TEST(HandCase, Structured) {
  check_hand_case([](const TttInputs& in) { return structured_reference(in); });
}
TEST(HandCase, StructuredOneRowTiles) {
  check_hand_case([](const TttInputs& in) { return structured_reference(in, testing::tiled(1)); });
}
TEST(HandCase, Dense) {
  check_hand_case([](const TttInputs& in) { return dense_reference(in); });
}

}  // namespace
}  // namespace attn::ref

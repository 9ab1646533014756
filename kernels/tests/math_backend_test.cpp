// math-fp64 and math-fp32 against the Eigen fp64 reference: two independent implementations of
// the truth must agree to 1e-12 (fp64) and ~1e-5 (fp32) relative, on every tensor.
#include <gtest/gtest.h>

#include "kernels/math_backend.hpp"
#include "kernels/tests/test_support.hpp"

namespace attn::kern::test {
namespace {

class MathVsReference : public ::testing::TestWithParam<CaseSpec> {};

void expect_close(const MathBackend& backend, const CaseSpec& spec, double tol) {
  const data::CaseInputs in = make_case(spec);
  const ref::TttResult r = reference(in);
  const TorchOutputs o = backend.run(to_device(in, at::kCPU));
  // Invalid rows are part of the contract here (both give zeros), so compare every row: the
  // valid-row measure below plus an explicit zero check.
  for (const TensorError& e : compare(o, r, in, at::kDouble)) {
    EXPECT_TRUE(e.finite) << e.name;
    EXPECT_LE(e.rel(), tol) << backend.name() << " " << e.name << " err " << e.err << " ref_max "
                            << e.ref_max << " (" << describe(spec) << ")";
  }
  EXPECT_EQ(invalid_rows_max_abs(o.out, in), 0.0);
  EXPECT_EQ(invalid_rows_max_abs(o.lse, in), 0.0);
  EXPECT_EQ(invalid_rows_max_abs(o.dq, in), 0.0);
}

TEST_P(MathVsReference, Fp64AgreesTo1e12) {
  expect_close(MathBackend(at::kDouble), GetParam(), 1e-12);
}

TEST_P(MathVsReference, Fp32AgreesTo1e5) {
  expect_close(MathBackend(at::kFloat), GetParam(), 1e-5);
}

CaseSpec spec(int64_t B, int64_t H, int64_t Hkv, int64_t L, int64_t D, int64_t t,
              std::vector<int64_t> pad, data::DType dtype = data::DType::bf16, uint64_t seed = 7) {
  CaseSpec s;
  s.B = B, s.H = H, s.Hkv = Hkv, s.L = L, s.D = D, s.t = t, s.pad = std::move(pad);
  s.dtype = dtype;
  s.seed = seed;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MathVsReference,
    ::testing::Values(spec(2, 4, 2, 48, 64, 0, {0, 9}),              // GQA, padding, t = 0
                      spec(2, 4, 1, 40, 102, 3, {5, 0}),             // MQA, odd D, t = 3
                      spec(1, 6, 2, 32, 64, 6, {4}),                 // GQA, t = 6
                      spec(2, 2, 2, 24, 102, 6, {0, 17}, data::DType::f64),  // fp64 inputs
                      spec(1, 2, 1, 8, 16, 7, {1})),                 // every row invalid
    [](const auto& info) { return "case" + std::to_string(info.index); });

}  // namespace
}  // namespace attn::kern::test

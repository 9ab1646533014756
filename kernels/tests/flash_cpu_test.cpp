// The flash + LSE path on the CPU: exact in fp64 (the merge and the custom backward are the
// math of DESIGN.md section 2), close in fp32, within the provisional gate against sdpa in bf16,
// invalid rows exactly zero; and the gate catches the block-0-own-LSE mutant.
#include <gtest/gtest.h>

#include <iostream>

#include <c10/core/GradMode.h>

#include "datasets/generator.hpp"
#include "kernels/flash_backend.hpp"
#include "kernels/sdpa_backend.hpp"
#include "kernels/tests/test_support.hpp"

namespace attn::kern::test {
namespace {

CaseSpec spec(int64_t B, int64_t H, int64_t Hkv, int64_t L, int64_t D, int64_t t,
              std::vector<int64_t> pad, data::DType dtype, uint64_t seed = 11) {
  CaseSpec s;
  s.B = B, s.H = H, s.Hkv = Hkv, s.L = L, s.D = D, s.t = t, s.pad = std::move(pad);
  s.dtype = dtype;
  s.seed = seed;
  return s;
}

void expect_invalid_rows_zero(const TorchOutputs& o, const data::CaseInputs& in) {
  EXPECT_EQ(invalid_rows_max_abs(o.out, in), 0.0);
  EXPECT_EQ(invalid_rows_max_abs(o.lse, in), 0.0);
  EXPECT_EQ(invalid_rows_max_abs(o.dq, in), 0.0);
}

void expect_matches_reference(const FlashBackend& flash, const CaseSpec& s, double tol) {
  const data::CaseInputs in = make_case(s);
  const ref::TttResult r = reference(in);
  const TorchOutputs o = flash.run(to_device(in, at::kCPU));
  for (const TensorError& e : compare(o, r, in, at::kDouble)) {
    EXPECT_TRUE(e.finite) << e.name;
    EXPECT_LE(e.rel(), tol) << e.name << " err " << e.err << " ref_max " << e.ref_max << " ("
                            << describe(s) << ", " << o.variant << ")";
  }
  expect_invalid_rows_zero(o, in);
}

class FlashCpuExact : public ::testing::TestWithParam<CaseSpec> {};

TEST_P(FlashCpuExact, Fp64CpuFlashKernelMatchesReference) {
  CaseSpec s = GetParam();
  s.dtype = data::DType::f64;
  expect_matches_reference(FlashBackend(), s, 1e-12);
}

TEST_P(FlashCpuExact, Fp64ComposedBlock0MatchesReference) {
  CaseSpec s = GetParam();
  s.dtype = data::DType::f64;
  FlashOptions o;
  o.block0 = FlashOptions::Block0::composed;
  expect_matches_reference(FlashBackend(o), s, 1e-12);
}

TEST_P(FlashCpuExact, Fp64VarlenPackingMatchesReference) {
  // The varlen packing, FA2's [H, total_q] LSE layout and the varlen backward plumbing, with
  // the CPU kernel standing in for the CUDA one.
  CaseSpec s = GetParam();
  s.dtype = data::DType::f64;
  FlashOptions o;
  o.block0 = FlashOptions::Block0::varlen;
  expect_matches_reference(FlashBackend(o), s, 1e-12);
}

TEST_P(FlashCpuExact, Fp32CloseToReference) {
  CaseSpec s = GetParam();
  s.dtype = data::DType::f32;
  expect_matches_reference(FlashBackend(), s, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, FlashCpuExact,
                         ::testing::Values(spec(2, 4, 2, 48, 64, 0, {0, 9}, data::DType::f64),
                                           spec(2, 4, 1, 40, 102, 3, {5, 0}, data::DType::f64),
                                           spec(1, 6, 2, 33, 64, 6, {4}, data::DType::f64),
                                           spec(3, 4, 2, 40, 64, 3, {0, 38, 10}, data::DType::f64),
                                           spec(1, 2, 1, 8, 16, 7, {1}, data::DType::f64)),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

class FlashCpuBf16Gate : public ::testing::TestWithParam<CaseSpec> {};

TEST_P(FlashCpuBf16Gate, WithinProvisionalRuleOfSdpa) {
  const CaseSpec s = GetParam();
  const data::CaseInputs in = make_case(s);
  const ref::TttResult r = reference(in);
  const TorchCase c = to_device(in, at::kCPU);
  const TorchOutputs fo = FlashBackend().run(c);
  const TorchOutputs so = SdpaBackend().run(c);
  const auto fe = compare(fo, r, in, at::kBFloat16), se = compare(so, r, in, at::kBFloat16);
  std::string report;
  const std::string failed = gate_failures(fe, se, &report);
  std::cout << "[flash vs sdpa, cpu] " << describe(s) << " (" << fo.variant << ")\n" << report;
  EXPECT_EQ(failed, "") << report;
  for (const TensorError& e : se) EXPECT_TRUE(e.finite) << "sdpa " << e.name;
  expect_invalid_rows_zero(fo, in);
}

TEST_P(FlashCpuBf16Gate, MutantOwnLseIsCaught) {
  const CaseSpec s = GetParam();
  const data::CaseInputs in = make_case(s);
  const TorchCase c = to_device(in, at::kCPU);
  FlashOptions bug;
  bug.defect = FlashOptions::Defect::block0_own_lse;
  const TorchOutputs mo = FlashBackend(bug, "flash-mutant").run(c);
  if (s.t == 0) {
    // No singletons: the merged output and LSE are block 0's own, so the defect is invisible by
    // construction and the mutant must give flash's gradients bit for bit.
    const TorchOutputs fo = FlashBackend().run(c);
    EXPECT_TRUE(at::equal(mo.dq, fo.dq));
    EXPECT_TRUE(at::equal(mo.dk[0], fo.dk[0]));
    EXPECT_TRUE(at::equal(mo.dv[0], fo.dv[0]));
    return;
  }
  const ref::TttResult r = reference(in);
  const TorchOutputs so = SdpaBackend().run(c);
  std::string report;
  const std::string failed =
      gate_failures(compare(mo, r, in, at::kBFloat16), compare(so, r, in, at::kBFloat16), &report);
  std::cout << "[mutant vs sdpa, cpu] " << describe(s) << "\n" << report;
  EXPECT_TRUE(failed.find("dq") != std::string::npos || failed.find("dk0") != std::string::npos)
      << "the gate did not flag dq or dk0 of the own-LSE mutant; failures: '" << failed << "'\n"
      << report;
  // The forward is untouched by the defect.
  EXPECT_EQ(failed.find("out"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Shapes, FlashCpuBf16Gate,
                         ::testing::Values(spec(2, 4, 2, 64, 64, 3, {0, 13}, data::DType::bf16),
                                           spec(1, 4, 4, 64, 64, 0, {}, data::DType::bf16),
                                           spec(2, 4, 1, 48, 102, 6, {7, 0}, data::DType::bf16),
                                           spec(1, 8, 2, 96, 128, 1, {5}, data::DType::bf16)),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

TEST(FlashCpu, GeneratedCasesWithinProvisionalRuleOfSdpa) {
  // Realistic inputs from the case generator (rotary keys, outlier channels, peaked rows),
  // grad_out of unit scale so the gradients are not below the rule's floor.
  for (const auto& [D, t, seed] : std::vector<std::tuple<int64_t, int64_t, uint64_t>>{
           {64, 6, 3}, {128, 2, 4}, {128, 0, 5}}) {
    data::GeneratorSpec g;
    g.preset = "custom";
    g.heads = 8, g.kv_heads = 2, g.head_dim = D;
    g.seq = 128, g.ttt_step = t, g.batch = 2, g.pad = {0, 21};
    g.seed = seed;
    g.grad_scale = 1.0;
    const data::CaseInputs in = data::generate_case(g);
    const ref::TttResult r = reference(in);
    const TorchCase c = to_device(in, at::kCPU);
    const TorchOutputs fo = FlashBackend().run(c), so = SdpaBackend().run(c);
    std::string report;
    const std::string failed =
        gate_failures(compare(fo, r, in, at::kBFloat16), compare(so, r, in, at::kBFloat16), &report);
    std::cout << "[flash vs sdpa, cpu, generated] D" << D << " t" << t << " seed" << seed << "\n" << report;
    EXPECT_EQ(failed, "") << report;
    expect_invalid_rows_zero(fo, in);
  }
}

TEST(FlashCpu, VarlenVariantWithinRuleAndRecordsItsLayout) {
  const CaseSpec s = spec(3, 4, 2, 64, 64, 2, {0, 60, 17}, data::DType::bf16);
  const data::CaseInputs in = make_case(s);
  const ref::TttResult r = reference(in);
  const TorchCase c = to_device(in, at::kCPU);
  FlashOptions varlen;
  varlen.block0 = FlashOptions::Block0::varlen;
  const TorchOutputs fo = FlashBackend(varlen).run(c), so = SdpaBackend().run(c);
  EXPECT_EQ(fo.variant, "block0=cpu-flash-varlen (lse [H, total_q]); merge=composed");
  std::string report;
  EXPECT_EQ(gate_failures(compare(fo, r, in, at::kBFloat16), compare(so, r, in, at::kBFloat16), &report), "")
      << report;
  expect_invalid_rows_zero(fo, in);
}

TEST(FlashCpu, ComposedBlock0AgreesWithCpuFlashKernelInBf16) {
  const CaseSpec s = spec(2, 4, 2, 40, 64, 2, {3, 0}, data::DType::bf16);
  const data::CaseInputs in = make_case(s);
  const TorchCase c = to_device(in, at::kCPU);
  FlashOptions composed;
  composed.block0 = FlashOptions::Block0::composed;
  const TorchOutputs a = FlashBackend().run(c), b = FlashBackend(composed).run(c);
  EXPECT_NE(a.variant, b.variant);
  // Both round once into bf16 from fp32 results: at most a couple of bf16 ulps apart.
  const auto close = [](const at::Tensor& x, const at::Tensor& y, const char* what) {
    const double scale = y.abs().max().item<double>();
    EXPECT_LE((x.to(at::kDouble) - y.to(at::kDouble)).abs().max().item<double>(), 2e-2 * scale) << what;
  };
  close(a.out, b.out, "out");
  close(a.lse, b.lse, "lse");
  close(a.dq, b.dq, "dq");
  for (size_t m = 0; m < a.dk.size(); ++m) {
    close(a.dk[m], b.dk[m], "dk");
    close(a.dv[m], b.dv[m], "dv");
  }
}

TEST(FlashCpu, AutogradFunctionComposesWithOtherOps) {
  // The flash Function used inside a larger graph: d(sum(out * w))/dq equals run() with
  // grad_out = w.
  const CaseSpec s = spec(1, 2, 1, 16, 32, 2, {2}, data::DType::f64);
  const data::CaseInputs in = make_case(s);
  const TorchCase c = to_device(in, at::kCPU);
  c10::AutoGradMode on(true);
  const at::Tensor q = c.q.detach().requires_grad_(true);
  const auto res = FlashBackend::apply(q, c.k, c.v, c.valid_len_host, c.scale, {});
  (res[0] * c.grad_out).sum().backward();
  const TorchOutputs o = FlashBackend().run(c);
  EXPECT_LE((q.grad() - o.dq).abs().max().item<double>(), 1e-14);
}

}  // namespace
}  // namespace attn::kern::test

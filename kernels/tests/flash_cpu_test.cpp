// The flash + LSE path on the CPU: exact in fp64 (the merge and the custom backward are the
// math of docs/design.md, "The function"), close in fp32, within the provisional gate against sdpa in bf16,
// invalid rows exactly zero; and the gate catches the block-0-own-LSE mutant.
#include <gtest/gtest.h>

#include <iostream>

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>

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

/// Leaves for the inputs of a case: q, k_0..k_t, v_0..v_t.
struct Leaves {
  at::Tensor q;
  std::vector<at::Tensor> k, v;
  explicit Leaves(const TorchCase& c) : q(c.q.detach().requires_grad_(true)) {
    for (const at::Tensor& x : c.k) k.push_back(x.detach().requires_grad_(true));
    for (const at::Tensor& x : c.v) v.push_back(x.detach().requires_grad_(true));
  }
};

TEST(FlashCpu, BackwardHandsEachSingletonBlockToItsOwnNode) {
  // The memory contract of the graph: the step's node has edges to q, k_0, v_0 and one per
  // singleton block; each block's node has exactly two (k_m, v_m), so no node returns more
  // than one block's gradients.
  const CaseSpec s = spec(1, 4, 2, 32, 16, 3, {5}, data::DType::f64);
  const TorchCase c = to_device(make_case(s), at::kCPU);
  c10::AutoGradMode on(true);
  const Leaves x(c);
  const auto res = FlashBackend::apply(x.q, x.k, x.v, c.valid_len_host, c.scale, {});
  const auto& edges = res[0].grad_fn()->next_edges();
  ASSERT_EQ(edges.size(), size_t(3 + s.t));
  for (int64_t m = 1; m <= s.t; ++m) {
    const auto& fn = edges[size_t(2 + m)].function;
    ASSERT_TRUE(fn) << "block " << m;
    EXPECT_EQ(fn->next_edges().size(), 2u) << "block " << m;
  }
}

TEST(FlashCpu, GradientsOfSomeInputsAloneAndRetainedGraphsAgreeWithRun) {
  const CaseSpec s = spec(2, 4, 2, 24, 16, 3, {0, 7}, data::DType::f64);
  const TorchCase c = to_device(make_case(s), at::kCPU);
  const TorchOutputs o = FlashBackend().run(c);
  c10::AutoGradMode on(true);
  const Leaves x(c);
  const auto res = FlashBackend::apply(x.q, x.k, x.v, c.valid_len_host, c.scale, {});
  // One singleton block alone (the step's node runs, the other blocks' nodes do not).
  const auto only_k2 = torch::autograd::grad({res[0]}, {x.k[2]}, {c.grad_out}, /*retain_graph=*/true);
  EXPECT_LE((only_k2[0] - o.dk[2]).abs().max().item<double>(), 1e-14);
  // Twice more over all inputs on the retained graph: the same gradients each time.
  std::vector<at::Tensor> all{x.q};
  all.insert(all.end(), x.k.begin(), x.k.end());
  all.insert(all.end(), x.v.begin(), x.v.end());
  for (int pass = 0; pass < 2; ++pass) {
    const auto gr = torch::autograd::grad({res[0]}, all, {c.grad_out}, /*retain_graph=*/true);
    EXPECT_LE((gr[0] - o.dq).abs().max().item<double>(), 1e-14) << "pass " << pass;
    for (int64_t m = 0; m <= s.t; ++m) {
      EXPECT_LE((gr[size_t(1 + m)] - o.dk[size_t(m)]).abs().max().item<double>(), 1e-14) << "dk" << m;
      EXPECT_LE((gr[size_t(2 + s.t + m)] - o.dv[size_t(m)]).abs().max().item<double>(), 1e-14) << "dv" << m;
    }
  }
}

TEST(FlashCpu, TrainingStepAccumulatesEveryStepsBlockGradients) {
  // T = 3 TTT steps over shared cache blocks, one backward of all of them (the bench's
  // train_step): each block's gradient is the sum of the steps' separate gradients.
  const int64_t T = 3;
  const CaseSpec s = spec(1, 4, 2, 20, 16, T - 1, {3}, data::DType::f64);
  const TorchCase c = to_device(make_case(s), at::kCPU);
  c10::AutoGradMode on(true);
  const Leaves x(c);
  std::vector<at::Tensor> qs, gs, outs;
  for (int64_t t = 0; t < T; ++t) {
    qs.push_back((c.q * (1.0 + 0.25 * double(t))).detach().requires_grad_(true));
    gs.push_back(c.grad_out * (1.0 - 0.2 * double(t)));
  }
  std::vector<std::vector<at::Tensor>> per_step;  // grads of (q_t, k_0..k_t, v_0..v_t)
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<at::Tensor> k(x.k.begin(), x.k.begin() + t + 1), v(x.v.begin(), x.v.begin() + t + 1);
    const auto r = FlashBackend::apply(qs[size_t(t)], k, v, c.valid_len_host, c.scale, {});
    outs.push_back(r[0]);
    std::vector<at::Tensor> wrt{qs[size_t(t)]};
    wrt.insert(wrt.end(), k.begin(), k.end());
    wrt.insert(wrt.end(), v.begin(), v.end());
    per_step.push_back(torch::autograd::grad({r[0]}, wrt, {gs[size_t(t)]}, /*retain_graph=*/true));
  }
  std::vector<at::Tensor> wrt(qs);
  wrt.insert(wrt.end(), x.k.begin(), x.k.end());
  wrt.insert(wrt.end(), x.v.begin(), x.v.end());
  const auto all = torch::autograd::grad(outs, wrt, gs);
  for (int64_t m = 0; m < T; ++m) {
    at::Tensor dk = at::zeros_like(x.k[size_t(m)]), dv = at::zeros_like(x.v[size_t(m)]);
    for (int64_t t = m; t < T; ++t) {
      dk += per_step[size_t(t)][size_t(1 + m)];
      dv += per_step[size_t(t)][size_t(2 + t + m)];
    }
    EXPECT_LE((all[size_t(T + m)] - dk).abs().max().item<double>(), 1e-13) << "dk" << m;
    EXPECT_LE((all[size_t(2 * T + m)] - dv).abs().max().item<double>(), 1e-13) << "dv" << m;
    EXPECT_GT(dk.abs().max().item<double>(), 0.0) << "dk" << m;
  }
  for (int64_t t = 0; t < T; ++t)
    EXPECT_LE((all[size_t(t)] - per_step[size_t(t)][0]).abs().max().item<double>(), 1e-14) << "dq" << t;
}

// ---- FlashSharedBlocks: one node per singleton block for all steps of a training step ----

/// T steps over shared cache blocks with fresh q_t, g_t (as the bench's train_step).
struct TrainingSteps {
  static constexpr int64_t T = 4;
  TorchCase c;
  Leaves x;
  std::vector<at::Tensor> qs, gs;
  explicit TrainingSteps(const CaseSpec& s) : c(to_device(make_case(s), at::kCPU)), x(c) {
    for (int64_t t = 0; t < T; ++t) {
      qs.push_back((c.q * (1.0 + 0.25 * double(t))).detach().requires_grad_(true));
      gs.push_back(c.grad_out * (1.0 - 0.2 * double(t)));
    }
  }
  std::vector<at::Tensor> k(int64_t t) const { return {x.k.begin(), x.k.begin() + t + 1}; }
  std::vector<at::Tensor> v(int64_t t) const { return {x.v.begin(), x.v.begin() + t + 1}; }
  /// The outputs of every step, through `shared` when given.
  std::vector<at::Tensor> forward(FlashSharedBlocks* shared, std::string* variant = nullptr) const {
    std::vector<at::Tensor> outs;
    for (int64_t t = 0; t < T; ++t)
      outs.push_back(FlashBackend::apply(qs[size_t(t)], k(t), v(t), c.valid_len_host, c.scale, {},
                                         variant, shared)[0]);
    return outs;
  }
  /// q_0..q_{T-1}, k_0..k_{T-1}, v_0..v_{T-1}.
  std::vector<at::Tensor> all_inputs() const {
    std::vector<at::Tensor> wrt(qs);
    wrt.insert(wrt.end(), x.k.begin(), x.k.end());
    wrt.insert(wrt.end(), x.v.begin(), x.v.end());
    return wrt;
  }
};

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(FlashCpuShared, EachSingletonBlockHasOneNodeForAllSteps) {
  const TrainingSteps s(spec(1, 4, 2, 20, 16, TrainingSteps::T - 1, {3}, data::DType::f64));
  c10::AutoGradMode on(true);
  FlashSharedBlocks shared;
  const auto outs = s.forward(&shared);
  EXPECT_EQ(shared.shared_blocks(), TrainingSteps::T - 1);
  // Step t's node: edges q, k_0, v_0, x_1..x_t; x_m's node is the same in every step and has
  // exactly two edges (k_m, v_m).
  for (int64_t t = 1; t < TrainingSteps::T; ++t) {
    const auto& edges = outs[size_t(t)].grad_fn()->next_edges();
    ASSERT_EQ(edges.size(), size_t(3 + t));
    for (int64_t m = 1; m <= t; ++m) {
      const auto& fn = edges[size_t(2 + m)].function;
      ASSERT_TRUE(fn);
      EXPECT_EQ(fn.get(), outs[size_t(m)].grad_fn()->next_edges()[size_t(2 + m)].function.get())
          << "block " << m << " of step " << t << " has a node of its own";
      EXPECT_EQ(fn->next_edges().size(), 2u);
    }
  }
}

TEST(FlashCpuShared, TrainingStepGradientsEqualThePerStepGraphs) {
  // The same training step with and without shared blocks: every gradient equal (the shared
  // accumulators add the steps' contributions in the order the engine would).
  for (const CaseSpec& cs : {spec(1, 4, 2, 20, 16, TrainingSteps::T - 1, {3}, data::DType::f64),
                             spec(2, 4, 1, 24, 16, TrainingSteps::T - 1, {0, 9}, data::DType::bf16)}) {
    const TrainingSteps s(cs);
    c10::AutoGradMode on(true);
    FlashSharedBlocks shared;
    std::string variant;
    const auto with = torch::autograd::grad(s.forward(&shared, &variant), s.all_inputs(), s.gs);
    const auto without = torch::autograd::grad(s.forward(nullptr), s.all_inputs(), s.gs);
    ASSERT_EQ(with.size(), without.size());
    for (size_t i = 0; i < with.size(); ++i) {
      EXPECT_TRUE(at::equal(with[i], without[i]))
          << describe(cs) << " input " << i << " differs by " << max_abs_diff(with[i], without[i]);
      EXPECT_GT(with[i].abs().max().item<double>(), 0.0) << "input " << i;
    }
    EXPECT_EQ(variant, "block0=cpu-flash (lse [B, H, L]); merge=composed");
  }
}

TEST(FlashCpuShared, PartialAndRepeatedBackwardPassesOnARetainedGraph) {
  // Graph tasks that need some blocks only, and several passes over one retained graph: each
  // block's buffer belongs to one graph task, so passes never see each other's contributions.
  const TrainingSteps s(spec(2, 4, 2, 20, 16, TrainingSteps::T - 1, {0, 4}, data::DType::f64));
  c10::AutoGradMode on(true);
  // The reference: each step's own graph (no sharing), gradients per step.
  std::vector<std::vector<at::Tensor>> per_step;  // grads of (q_t, k_0..k_t, v_0..v_t)
  for (int64_t t = 0; t < TrainingSteps::T; ++t) {
    const auto k = s.k(t), v = s.v(t);
    const auto r = FlashBackend::apply(s.qs[size_t(t)], k, v, s.c.valid_len_host, s.c.scale, {});
    std::vector<at::Tensor> wrt{s.qs[size_t(t)]};
    wrt.insert(wrt.end(), k.begin(), k.end());
    wrt.insert(wrt.end(), v.begin(), v.end());
    per_step.push_back(torch::autograd::grad({r[0]}, wrt, {s.gs[size_t(t)]}));
  }
  auto dk_sum = [&](int64_t m, int64_t first, int64_t last) {  // steps first..last
    at::Tensor d = at::zeros_like(s.x.k[size_t(m)]);
    for (int64_t t = std::max(m, first); t <= last; ++t) d += per_step[size_t(t)][size_t(1 + m)];
    return d;
  };
  FlashSharedBlocks shared;
  const auto outs = s.forward(&shared);
  const int64_t T = TrainingSteps::T;
  // 1. Block 2's key alone, over all steps.
  const auto only_k2 = torch::autograd::grad(outs, {s.x.k[2]}, s.gs, /*retain_graph=*/true);
  EXPECT_LE(max_abs_diff(only_k2[0], dk_sum(2, 0, T - 1)), 1e-13);
  // 2. q alone (no block is needed: the steps skip them).
  const auto only_q = torch::autograd::grad(outs, {s.qs[3]}, s.gs, /*retain_graph=*/true);
  EXPECT_LE(max_abs_diff(only_q[0], per_step[3][0]), 1e-14);
  // 3. One step's output alone: block 1 gets step 2's contribution only.
  const auto step2 = torch::autograd::grad({outs[2]}, {s.x.k[1], s.x.v[1]}, {s.gs[2]}, true);
  EXPECT_LE(max_abs_diff(step2[0], per_step[2][2]), 1e-14);
  EXPECT_LE(max_abs_diff(step2[1], per_step[2][2 + 2 + 1]), 1e-14);
  // 4. Everything, twice: the same sums each time.
  for (int pass = 0; pass < 2; ++pass) {
    const auto all = torch::autograd::grad(outs, s.all_inputs(), s.gs, /*retain_graph=*/true);
    for (int64_t m = 0; m < T; ++m)
      EXPECT_LE(max_abs_diff(all[size_t(T + m)], dk_sum(m, 0, T - 1)), 1e-13) << "pass " << pass << " dk" << m;
    for (int64_t t = 0; t < T; ++t)
      EXPECT_LE(max_abs_diff(all[size_t(t)], per_step[size_t(t)][0]), 1e-14) << "pass " << pass << " dq" << t;
  }
  // 5. .backward() into .grad (AccumulateGrad) over the steps 1 and 3 only.
  for (const at::Tensor& k : s.x.k) k.mutable_grad() = at::Tensor();
  torch::autograd::backward({outs[1], outs[3]}, {s.gs[1], s.gs[3]}, /*retain_graph=*/true);
  EXPECT_LE(max_abs_diff(s.x.k[1].grad(), per_step[1][2] + per_step[3][2]), 1e-13);
  EXPECT_LE(max_abs_diff(s.x.k[3].grad(), per_step[3][4]), 1e-13);
  EXPECT_LE(max_abs_diff(s.x.k[2].grad(), per_step[3][3]), 1e-13);
}

TEST(FlashCpuShared, AnotherTensorForARegisteredBlockIsAnError) {
  const TrainingSteps s(spec(1, 2, 1, 12, 8, 2, {}, data::DType::f64));
  c10::AutoGradMode on(true);
  {
    FlashSharedBlocks shared;
    FlashBackend::apply(s.qs[1], s.k(1), s.v(1), s.c.valid_len_host, s.c.scale, {}, nullptr, &shared);
    std::vector<at::Tensor> k = s.k(2);
    k[1] = k[1].clone();  // equal values, another tensor
    EXPECT_THROW(FlashBackend::apply(s.qs[2], k, s.v(2), s.c.valid_len_host, s.c.scale, {}, nullptr, &shared),
                 c10::Error);
  }
  {
    FlashSharedBlocks shared;
    const at::Tensor k1 = s.x.k[1].detach().clone().requires_grad_(true);
    std::vector<at::Tensor> k = s.k(2);
    k[1] = k1;
    FlashBackend::apply(s.qs[1], {k[0], k1}, s.v(1), s.c.valid_len_host, s.c.scale, {}, nullptr, &shared);
    {
      c10::NoGradGuard no_grad;
      k1.mul_(2.0);  // modified in place between the steps
    }
    EXPECT_THROW(FlashBackend::apply(s.qs[2], k, s.v(2), s.c.valid_len_host, s.c.scale, {}, nullptr, &shared),
                 c10::Error);
  }
  {
    // Without a graph (no_grad) nothing is shared or registered.
    c10::NoGradGuard no_grad;
    FlashSharedBlocks shared;
    FlashBackend::apply(s.qs[2], s.k(2), s.v(2), s.c.valid_len_host, s.c.scale, {}, nullptr, &shared);
    EXPECT_EQ(shared.shared_blocks(), 0);
  }
}

TEST(FlashCpu, ProjectionLayoutGivesTheSameResults) {
  // q, k, v and grad_out as [B, L, heads, D] storage viewed as [B, heads, L, D] (what a
  // projection followed by transpose(1, 2) gives): the same values as contiguous inputs.
  const CaseSpec s = spec(2, 4, 2, 24, 16, 2, {0, 5}, data::DType::f64);
  const TorchCase c = to_device(make_case(s), at::kCPU);
  auto proj = [](const at::Tensor& x) { return x.transpose(1, 2).contiguous().transpose(1, 2); };
  c10::AutoGradMode on(true);
  const Leaves a(c);
  std::vector<at::Tensor> k, v;
  for (size_t m = 0; m < a.k.size(); ++m) {
    k.push_back(proj(a.k[m]).detach().requires_grad_(true));
    v.push_back(proj(a.v[m]).detach().requires_grad_(true));
  }
  const at::Tensor q = proj(a.q).detach().requires_grad_(true);
  const auto r1 = FlashBackend::apply(a.q, a.k, a.v, c.valid_len_host, c.scale, {});
  const auto r2 = FlashBackend::apply(q, k, v, c.valid_len_host, c.scale, {});
  EXPECT_LE((r1[0] - r2[0]).abs().max().item<double>(), 1e-14);
  const auto g1 = torch::autograd::grad({r1[0]}, {a.q, a.k[0], a.k[2], a.v[1]}, {c.grad_out});
  const auto g2 = torch::autograd::grad({r2[0]}, {q, k[0], k[2], v[1]}, {proj(c.grad_out)});
  for (size_t i = 0; i < g1.size(); ++i) EXPECT_LE((g1[i] - g2[i]).abs().max().item<double>(), 1e-14) << i;
}

}  // namespace
}  // namespace attn::kern::test

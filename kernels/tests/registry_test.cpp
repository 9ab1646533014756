// The registry, devices, provenance, support decisions (evaluated without a GPU) and the exact
// host <-> device conversions.
#include <gtest/gtest.h>

#include "datasets/errors.hpp"
#include "kernels/flash_backend.hpp"
#include "kernels/registry.hpp"
#include "kernels/tests/test_support.hpp"

namespace attn::kern::test {
namespace {

data::CaseConfig config(int64_t D, data::DType dtype, int64_t H = 8, int64_t Hkv = 2) {
  data::CaseConfig c;
  c.B = 1, c.H = H, c.Hkv = Hkv, c.L = 128, c.D = D, c.t = 2, c.dtype = dtype;
  return c;
}

TEST(Registry, ListsTheBackendsInAStableOrder) {
  std::vector<std::string> names;
  for (const auto& b : all_backends()) names.push_back(b->name());
  EXPECT_EQ(names, (std::vector<std::string>{"sdpa", "flash", "flash-fa2", "math-fp64", "math-fp32"}));
  EXPECT_EQ(find_backend("flash")->invalid_rows(), InvalidRows::zeros);
  EXPECT_EQ(find_backend("sdpa")->invalid_rows(), InvalidRows::unspecified);
  EXPECT_EQ(find_backend("math-fp64")->invalid_rows(), InvalidRows::zeros);
}

TEST(Registry, UnknownBackendNamesTheKnownOnes) {
  try {
    find_backend("flex-nope");
    FAIL() << "no exception";
  } catch (const data::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("sdpa, flash, flash-fa2, math-fp64, math-fp32"), std::string::npos)
        << e.what();
  }
}

TEST(Registry, ParseDevice) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_THROW(parse_device("tpu"), data::InputError);
  if (cuda_available()) EXPECT_TRUE(parse_device("cuda").is_cuda());
  else EXPECT_THROW(parse_device("cuda"), data::InputError);
}

TEST(Registry, ProvenanceHasTheRequiredKeys) {
  const auto p = run_provenance(*find_backend("flash"), at::Device(at::kCPU),
                                config(64, data::DType::bf16), "abc123", "block0=cpu-flash");
  for (const char* key : {"backend", "variant", "device", "torch_version", "dtype", "commit", "time"})
    EXPECT_TRUE(p.count(key)) << key;
  EXPECT_EQ(p.at("backend"), "flash");
  EXPECT_EQ(p.at("device"), "cpu");
  EXPECT_EQ(p.at("dtype"), "bf16");
  EXPECT_EQ(p.at("commit"), "abc123");
  EXPECT_EQ(p.at("torch_version").rfind("2.", 0), 0u) << p.at("torch_version");
  EXPECT_EQ(p.at("time").size(), 20u) << p.at("time");  // 2025-01-01T00:00:00Z
  EXPECT_FALSE(run_provenance(*find_backend("sdpa"), at::Device(at::kCPU),
                              config(64, data::DType::bf16), "x").count("variant"));
}

TEST(Support, FlashOnCudaRejectsOddHeadDimWithAReason) {
  const Support s = find_backend("flash")->supports(config(102, data::DType::bf16), at::Device(at::kCUDA, 0));
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.why, "unsupported: head_dim 102 is not a multiple of 8 (flash kernel)");
}

TEST(Support, FlashOnCudaRejectsLargeHeadDimAndFp32) {
  const auto flash = find_backend("flash");
  const Support big = flash->supports(config(320, data::DType::bf16), at::Device(at::kCUDA, 0));
  EXPECT_FALSE(big.ok);
  EXPECT_NE(big.why.find("head_dim 320"), std::string::npos) << big.why;
  const Support f32 = flash->supports(config(64, data::DType::f32), at::Device(at::kCUDA, 0));
  EXPECT_FALSE(f32.ok);
  EXPECT_EQ(f32.why.rfind("unsupported: dtype f32", 0), 0u) << f32.why;
  const Support ok = flash->supports(config(128, data::DType::bf16), at::Device(at::kCUDA, 0));
  EXPECT_EQ(ok.ok, cuda_available()) << ok.why;
}

TEST(Support, CpuRunsEveryShapeAndDtype) {
  for (const auto& b : all_backends())
    for (data::DType d : {data::DType::bf16, data::DType::f32, data::DType::f64})
      for (int64_t D : {64, 102}) {
        const Support s = b->supports(config(D, d), at::Device(at::kCPU));
        EXPECT_TRUE(s.ok) << b->name() << " " << s.why;
      }
}

TEST(Support, BadGroupingAndHugeDenseMathAreRefused) {
  for (const auto& b : all_backends()) {
    const Support s = b->supports(config(64, data::DType::bf16, 6, 4), at::Device(at::kCPU));
    EXPECT_FALSE(s.ok) << b->name();
    EXPECT_EQ(s.why.rfind("unsupported: ", 0), 0u) << s.why;
  }
  data::CaseConfig big = config(128, data::DType::bf16, 32, 8);
  big.B = 4, big.L = 8192, big.t = 6;
  const Support s = find_backend("math-fp64")->supports(big, at::Device(at::kCPU));
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.why.find("GiB"), std::string::npos) << s.why;
}

TEST(TorchCase, ConversionsAreExact) {
  CaseSpec spec;
  spec.B = 2, spec.H = 2, spec.Hkv = 1, spec.L = 8, spec.D = 16, spec.t = 1, spec.pad = {0, 3};
  for (data::DType d : {data::DType::bf16, data::DType::f32, data::DType::f64}) {
    spec.dtype = d;
    const data::CaseInputs in = make_case(spec);
    const TorchCase c = to_device(in, at::kCPU);
    EXPECT_DOUBLE_EQ(c.scale, 0.25);
    EXPECT_EQ(c.valid_len_host, in.valid_len);
    TorchOutputs o;
    o.out = c.q;
    o.lse = c.q.select(3, 0).to(at::kFloat);
    o.dq = c.grad_out;
    o.dk = c.k;
    o.dv = c.v;
    const data::AttentionOutputs h = to_host(o);
    EXPECT_EQ(h.out.to_f64(), in.q.to_f64());
    EXPECT_EQ(h.out.dtype, d);
    EXPECT_EQ(h.out.shape, in.q.shape);
    EXPECT_EQ(h.lse.dtype, data::DType::f32);
    EXPECT_EQ(h.dq.to_f64(), in.grad_out.to_f64());
    ASSERT_EQ(h.dk.size(), 2u);
    EXPECT_EQ(h.dk[1].to_f64(), in.k[1].to_f64());
    EXPECT_EQ(h.dv[0].to_f64(), in.v[0].to_f64());
  }
}

TEST(TorchCase, BadShapesAreInputErrors) {
  CaseSpec spec;
  data::CaseInputs in = make_case(spec);
  in.k.pop_back();
  EXPECT_THROW(to_device(in, at::kCPU), data::InputError);
  in = make_case(spec);
  in.valid_len = {spec.L + 1};
  EXPECT_THROW(to_device(in, at::kCPU), data::InputError);
}

}  // namespace
}  // namespace attn::kern::test

// The mutants (kernels/mutants.hpp): each computes something wrong where its catalogue entry
// says the gate can see it, changes nothing it declares invisible, and stays out of the
// ordinary backend list. Exactness in fp64 on the CPU makes "wrong" unambiguous.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "kernels/mutants.hpp"
#include "kernels/registry.hpp"
#include "kernels/tests/test_support.hpp"

namespace attn::kern::test {
namespace {

using Defect = FlashOptions::Defect;

CaseSpec f64_spec(int64_t Hkv, int64_t t, uint64_t seed) {
  CaseSpec s;
  s.B = 2, s.H = 4, s.Hkv = Hkv, s.L = 40, s.D = 32, s.t = t, s.pad = {0, 6};
  s.dtype = data::DType::f64;
  s.seed = seed;
  return s;
}

/// Largest relative error over valid elements of any tensor.
double worst_rel(const TorchOutputs& o, const ref::TttResult& r, const data::CaseInputs& in,
                 std::string* which) {
  double worst = 0;
  for (const TensorError& e : compare(o, r, in, at::kDouble))
    if (e.rel() > worst) worst = e.rel(), *which = e.name;
  return worst;
}

double max_abs_diff(const TorchOutputs& a, const TorchOutputs& b) {
  auto d = [](const at::Tensor& x, const at::Tensor& y) {
    return (x.to(at::kDouble) - y.to(at::kDouble)).abs().max().item<double>();
  };
  double m = std::max({d(a.out, b.out), d(a.lse, b.lse), d(a.dq, b.dq)});
  for (size_t i = 0; i < a.dk.size(); ++i) m = std::max({m, d(a.dk[i], b.dk[i]), d(a.dv[i], b.dv[i])});
  return m;
}

TEST(Mutants, RegistryKeepsThemApart) {
  std::set<std::string> names;
  for (const auto& b : all_backends()) EXPECT_EQ(b->name().rfind("mutant-", 0), std::string::npos) << b->name();
  ASSERT_EQ(mutant_backends().size(), mutant_catalogue().size());
  for (size_t i = 0; i < mutant_catalogue().size(); ++i) {
    const MutantInfo& m = mutant_catalogue()[i];
    EXPECT_EQ(mutant_backends()[i]->name(), m.name);
    EXPECT_EQ(m.name.rfind("mutant-", 0), 0u) << m.name;
    EXPECT_TRUE(names.insert(m.name).second) << "duplicate " << m.name;
    EXPECT_NE(m.defect, Defect::none);
    EXPECT_EQ(find_backend(m.name)->name(), m.name);
    EXPECT_EQ(find_mutant(m.name), &m);
    EXPECT_NE(to_string(m.defect), "unknown");
    EXPECT_NE(find_backend(m.name)->description().find("MUTANT"), std::string::npos);
  }
  EXPECT_EQ(find_mutant("flash"), nullptr);
  EXPECT_GE(mutant_catalogue().size(), 5u);
}

TEST(Mutants, EachIsWrongWhereItsCatalogueEntrySays) {
  // GQA (H 4, Hkv 2), t = 3, one padded batch element: every mutant can show itself here.
  const data::CaseInputs in = make_case(f64_spec(2, 3, 21));
  const ref::TttResult r = reference(in);
  const TorchCase c = to_device(in, at::kCPU);
  const TorchOutputs flash = find_backend("flash")->run(c);
  std::string which;
  ASSERT_LE(worst_rel(flash, r, in, &which), 1e-12) << which;
  for (const MutantInfo& m : mutant_catalogue()) {
    // Precision defects are invisible in fp64: their own tests below.
    if (m.defect == Defect::bf16_merge || m.defect == Defect::bf16_singleton_scores ||
        m.defect == Defect::bf16_merged_lse)
      continue;
    const TorchOutputs o = find_backend(m.name)->run(c);
    EXPECT_NE(o.variant.find("MUTANT"), std::string::npos) << m.name << ": " << o.variant;
    const double rel = worst_rel(o, r, in, &which);
    const double invalid = std::max({invalid_rows_max_abs(o.out, in), invalid_rows_max_abs(o.lse, in),
                                     invalid_rows_max_abs(o.dq, in)});
    if (m.seen == MutantInfo::Seen::gate) {
      EXPECT_GT(rel, 1e-3) << m.name << " is right on every valid element (worst " << which << ")";
    } else {
      // Invisible to the gate by construction: valid elements and gradients equal flash's.
      EXPECT_LE(rel, 1e-12) << m.name << " " << which;
      for (size_t i = 0; i < o.dk.size(); ++i) {
        EXPECT_TRUE(at::equal(o.dk[i], flash.dk[i])) << m.name << " dk" << i;
        EXPECT_TRUE(at::equal(o.dv[i], flash.dv[i])) << m.name << " dv" << i;
      }
      EXPECT_TRUE(at::equal(o.dq, flash.dq)) << m.name;
      EXPECT_GT(invalid, 0.0) << m.name << " leaves invalid rows at zero";
    }
  }
}

TEST(Mutants, Bf16MergeLosesTheLsePrecision) {
  CaseSpec s = f64_spec(2, 3, 22);
  s.dtype = data::DType::bf16;
  const data::CaseInputs in = make_case(s);
  const ref::TttResult r = reference(in);
  const TorchCase c = to_device(in, at::kCPU);
  const auto fe = compare(find_backend("flash")->run(c), r, in, at::kBFloat16);
  const auto me = compare(find_backend("mutant-bf16-merge")->run(c), r, in, at::kBFloat16);
  ASSERT_EQ(fe[1].name, "lse");
  EXPECT_GT(me[1].err, 50 * fe[1].err) << "mutant lse err " << me[1].err << ", flash " << fe[1].err;
}

// The shipped defect, modelled as it was: the gradient reaching block 0's LSE is lost, so dq
// and dk0 are wrong while dv0 (p0 w0 = p) and every singleton gradient stay right. In fp64 the
// right ones agree with the reference to rounding; the unweighted variant breaks dv0 too.
TEST(Mutants, OwnLseIsTheShippedDefectExactly) {
  const data::CaseInputs in = make_case(f64_spec(2, 3, 25));
  const ref::TttResult r = reference(in);
  const TorchCase c = to_device(in, at::kCPU);
  const auto faithful = compare(find_backend("mutant-own-lse")->run(c), r, in, at::kDouble);
  const auto unweighted = compare(find_backend("mutant-own-lse-unweighted")->run(c), r, in, at::kDouble);
  for (size_t i = 0; i < faithful.size(); ++i) {
    const std::string& n = faithful[i].name;
    const double rel = faithful[i].err / std::max(faithful[i].ref_max, 1e-300);
    if (n == "dq" || n == "dk0")
      EXPECT_GT(rel, 1e-3) << n << " should be wrong";
    else
      EXPECT_LE(rel, 1e-12) << n << " should be right";
  }
  const auto dv0 = std::find_if(unweighted.begin(), unweighted.end(), [](const TensorError& e) { return e.name == "dv0"; });
  ASSERT_NE(dv0, unweighted.end());
  EXPECT_GT(dv0->err / dv0->ref_max, 1e-3) << "the unweighted variant also breaks dv0";
}

// bf16 singleton scores: the lse (and out) lose precision far beyond flash's; a bf16 merged LSE
// leaves the forward exact and spoils the gradients.
TEST(Mutants, PrecisionDefectsInBf16) {
  CaseSpec s = f64_spec(2, 3, 26);
  s.dtype = data::DType::bf16;
  const data::CaseInputs in = make_case(s);
  const ref::TttResult r = reference(in);
  const TorchCase c = to_device(in, at::kCPU);
  const TorchOutputs flash = find_backend("flash")->run(c);
  const auto fe = compare(flash, r, in, at::kBFloat16);
  const auto se = compare(find_backend("mutant-bf16-singleton-scores")->run(c), r, in, at::kBFloat16);
  ASSERT_EQ(fe[1].name, "lse");
  EXPECT_GT(se[1].err, 20 * fe[1].err) << "bf16 scores: lse err " << se[1].err << ", flash " << fe[1].err;
  const TorchOutputs ml = find_backend("mutant-bf16-merged-lse")->run(c);
  EXPECT_TRUE(at::equal(ml.lse, flash.lse)) << "the forward's lse is untouched";
  EXPECT_TRUE(at::equal(ml.out, flash.out));
  const auto le = compare(ml, r, in, at::kBFloat16);
  EXPECT_GT(le[2].err, 2 * fe[2].err) << "dq: " << le[2].err << " vs flash " << fe[2].err;
}

TEST(Mutants, DeclaredBlindSpotsChangeNothing) {
  // t = 0 for the mutants that declare it, MQA for the GQA mapping: outputs equal flash's.
  for (const auto& [Hkv, t] : std::vector<std::pair<int64_t, int64_t>>{{2, 0}, {1, 2}}) {
    const data::CaseInputs in = make_case(f64_spec(Hkv, t, 23));
    const TorchCase c = to_device(in, at::kCPU);
    const TorchOutputs flash = find_backend("flash")->run(c);
    for (const MutantInfo& m : mutant_catalogue()) {
      const bool blind = t == 0 ? m.invisible_when.rfind("t = 0", 0) == 0
                                : m.invisible_when.find("Hkv = 1") != std::string::npos;
      if (!blind) continue;
      EXPECT_LE(max_abs_diff(find_backend(m.name)->run(c), flash), 1e-12)
          << m.name << " with Hkv " << Hkv << ", t " << t;
    }
  }
}

TEST(Mutants, DropNewestGivesTheNewestBlockNoGradient) {
  const data::CaseInputs in = make_case(f64_spec(2, 2, 24));
  const TorchOutputs o = find_backend("mutant-drop-newest")->run(to_device(in, at::kCPU));
  ASSERT_EQ(o.dk.size(), 3u);
  EXPECT_EQ(o.dk[2].abs().max().item<double>(), 0.0);
  EXPECT_EQ(o.dv[2].abs().max().item<double>(), 0.0);
  EXPECT_GT(o.dk[1].abs().max().item<double>(), 0.0);
}

}  // namespace
}  // namespace attn::kern::test

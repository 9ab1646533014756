// The mutants (kernels/mutants.hpp): each computes something wrong where its catalogue entry
// says the gate can see it, changes nothing it declares invisible, and stays out of the
// ordinary backend list. Exactness in fp64 on the CPU makes "wrong" unambiguous.
#include <gtest/gtest.h>

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
    if (m.defect == Defect::bf16_merge) continue;  // invisible in fp64: its own test below
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

#include "harness/selftest/fixture_suite.hpp"

#include <sstream>

namespace attn::cli::selftest {
namespace {

FixtureCase make(int64_t H, int64_t Hkv, int64_t L, int64_t D, int64_t t, int64_t B,
                 std::vector<int64_t> pad, double grad_scale, uint64_t seed) {
  data::GeneratorSpec s;
  s.preset = "custom";
  s.heads = H, s.kv_heads = Hkv, s.head_dim = D;
  s.seq = L, s.ttt_step = t, s.batch = B, s.pad = std::move(pad);
  s.seed = seed;
  s.grad_scale = grad_scale;
  return {case_name(s), s};
}

}  // namespace

std::string case_name(const data::GeneratorSpec& s) {
  std::ostringstream o;
  o << (s.kv_heads == 1 ? "mqa" : s.kv_heads == s.heads ? "mha" : "gqa") << "-L" << s.seq << "-D"
    << s.head_dim << "-t" << s.ttt_step;
  bool padded = false;
  for (int64_t p : s.pad) padded = padded || p > 0;
  if (padded) o << "-pad";
  if (s.grad_scale == 1.0) o << "-unit";
  else o << "-g" << s.grad_scale;
  return o.str();
}

std::vector<FixtureCase> default_suite() {
  return {
      // unit-scale grad_out (flash-attention's test convention)
      make(4, 2, 128, 128, 3, 2, {0, 17}, 1.0, 101),
      make(4, 1, 96, 64, 1, 1, {}, 1.0, 102),
      make(4, 2, 64, 64, 6, 2, {5, 0}, 1.0, 103),
      make(4, 2, 128, 64, 1, 2, {0, 30}, 1.0, 104),
      make(4, 1, 128, 128, 6, 2, {9, 0}, 1.0, 105),
      make(4, 2, 64, 128, 0, 2, {0, 9}, 1.0, 106),  // t = 0: the real path, and lse-log2
      // realistic grad_out (the generator's default scale)
      make(4, 2, 128, 128, 3, 2, {0, 17}, 1e-3, 201),
      make(4, 1, 96, 64, 6, 2, {11, 0}, 1e-3, 202),
      make(4, 2, 64, 64, 1, 1, {}, 1e-3, 203),
  };
}

std::vector<FixtureCase> tiny_suite() {
  return {
      make(4, 2, 48, 64, 3, 2, {0, 7}, 1.0, 301),
      make(4, 1, 32, 64, 1, 1, {}, 1.0, 302),
      make(4, 2, 48, 64, 2, 1, {5}, 1e-3, 303),
  };
}

}  // namespace attn::cli::selftest

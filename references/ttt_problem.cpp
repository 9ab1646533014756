#include "references/ttt_problem.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace attn::ref {

namespace {

[[noreturn]] void fail(const std::string& field, const std::string& expected,
                       const std::string& found) {
  throw std::invalid_argument("TttInputs." + field + ": expected " + expected + ", found " + found);
}

std::string str(int64_t x) { return std::to_string(x); }

}  // namespace

TttResult TttResult::zeros(const TttShape& shape) {
  TttResult r;
  // std::vector value-initialises, so every page is written (touched) here.
  r.out.assign(static_cast<size_t>(shape.q_numel()), 0.0);
  r.dq.assign(static_cast<size_t>(shape.q_numel()), 0.0);
  r.lse.assign(static_cast<size_t>(shape.lse_numel()), 0.0);
  r.dk.assign(static_cast<size_t>(shape.blocks()),
              std::vector<double>(static_cast<size_t>(shape.kv_numel()), 0.0));
  r.dv.assign(static_cast<size_t>(shape.blocks()),
              std::vector<double>(static_cast<size_t>(shape.kv_numel()), 0.0));
  return r;
}

int64_t valid_rows(const TttInputs& in, int64_t b) {
  const int64_t len = std::min(in.shape.L, in.valid_len.at(static_cast<size_t>(b)));
  return std::max<int64_t>(0, len - in.shape.t);
}

void validate(const TttInputs& in) {
  const TttShape& s = in.shape;
  if (s.B < 1) fail("shape.B", ">= 1", str(s.B));
  if (s.H < 1) fail("shape.H", ">= 1", str(s.H));
  if (s.Hkv < 1) fail("shape.Hkv", ">= 1", str(s.Hkv));
  if (s.L < 1) fail("shape.L", ">= 1", str(s.L));
  if (s.D < 1) fail("shape.D", ">= 1", str(s.D));
  if (s.t < 0) fail("shape.t", ">= 0", str(s.t));
  if (s.H % s.Hkv != 0) fail("shape.H", "a multiple of shape.Hkv = " + str(s.Hkv), str(s.H));
  if (!(std::isfinite(in.scale) && in.scale > 0.0))
    fail("scale", "a finite value > 0", std::to_string(in.scale));
  if (in.q == nullptr) fail("q", "a non-null pointer to [B, H, L, D]", "null");
  const size_t blocks = static_cast<size_t>(s.blocks());
  if (in.k.size() != blocks)
    fail("k", str(s.blocks()) + " blocks (t + 1)", str(static_cast<int64_t>(in.k.size())));
  if (in.v.size() != blocks)
    fail("v", str(s.blocks()) + " blocks (t + 1)", str(static_cast<int64_t>(in.v.size())));
  for (size_t m = 0; m < blocks; ++m) {
    if (in.k[m] == nullptr)
      fail("k[" + std::to_string(m) + "]", "a non-null pointer to [B, Hkv, L, D]", "null");
    if (in.v[m] == nullptr)
      fail("v[" + std::to_string(m) + "]", "a non-null pointer to [B, Hkv, L, D]", "null");
  }
  if (in.valid_len.size() != static_cast<size_t>(s.B))
    fail("valid_len", str(s.B) + " entries (B)",
         str(static_cast<int64_t>(in.valid_len.size())) + " entries");
  for (size_t b = 0; b < in.valid_len.size(); ++b) {
    const int64_t len = in.valid_len[b];
    if (len < 0 || len > s.L)
      fail("valid_len[" + std::to_string(b) + "]", "a value in [0, L = " + str(s.L) + "]",
           str(len));
  }
}

}  // namespace attn::ref

// Synthetic TTT cases that look like real attention inputs (docs/case-format.md, "Generated cases").
// Deterministic for a seed on every machine: integer RNG, libm-free transcendental functions,
// no FMA contraction (see CMakeLists.txt), values rounded exactly into the case dtype.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/case.hpp"

namespace attn::data {

struct GeneratorSpec {
  std::string preset = "llama3-8b";  ///< or "custom": then heads/kv_heads/head_dim must be set
  int64_t heads = 0, kv_heads = 0, head_dim = 0;  ///< override the preset when > 0
  int64_t seq = 256;     ///< L
  int64_t ttt_step = 0;  ///< t
  int64_t batch = 1;     ///< B
  std::vector<int64_t> pad;  ///< right padding per batch element (one value is broadcast)
  DType dtype = DType::bf16;
  uint64_t seed = 0;
  double rope_theta = 0.0;        ///< 0: the preset's
  double logit_std = 2.5;         ///< std of s * q.k over ordinary channels
  int64_t outlier_channels = 4;   ///< per kv head, in keys (and matching q channels)
  double outlier_gain = 8.0;      ///< their magnitude relative to ordinary channels
  double grad_scale = 1e-3;       ///< std of grad_out
};

/// Throws InputError for inconsistent specs (H % Hkv, t >= L, pad >= L, bad sizes).
CaseInputs generate_case(const GeneratorSpec& spec);

}  // namespace attn::data

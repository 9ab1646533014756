// One recorded TTT attention step: its inputs, and outputs recorded by any producer.
// The on-disk form is described in case_file.hpp and README.md ("Case files").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/tensor.hpp"

namespace attn::data {

struct CaseConfig {
  int64_t B = 1, H = 1, Hkv = 1, L = 1, D = 1;
  int64_t t = 0;          ///< TTT step; the cache holds blocks 0..t
  DType dtype = DType::bf16;
  double scale = 0.0;     ///< softmax scale; the writer stores 1/sqrt(D) when this is 0
};

/// How a case was generated (stored as attributes of /generator; absent for recorded cases).
struct GeneratorParams {
  std::string preset;             ///< "llama3-8b", ..., or "custom"
  uint64_t seed = 0;
  std::vector<int64_t> pad;       ///< right padding per batch element
  double rope_theta = 500000.0;
  double logit_std = 0.0;         ///< target std of s * q.k before outliers (the temperature)
  int64_t outlier_channels = 0;   ///< per kv head
  double outlier_gain = 1.0;
  double grad_scale = 1.0;        ///< std of grad_out
};

struct CaseInputs {
  CaseConfig config;
  Tensor q;                        ///< [B, H, L, D]
  std::vector<Tensor> k, v;        ///< t + 1 blocks of [B, Hkv, L, D]
  std::vector<int64_t> valid_len;  ///< [B], right padding: tokens >= valid_len[b] are padding
  Tensor grad_out;                 ///< [B, H, L, D]
  std::optional<GeneratorParams> generator;
};

/// What a backend (or the reference) produces. lse: [B, H, L]; others as the inputs.
struct AttentionOutputs {
  Tensor out, lse, dq;
  std::vector<Tensor> dk, dv;  ///< t + 1 blocks each
};

/// Outputs recorded under /outputs/<name>, with free-form provenance attributes
/// (backend, device, torch_version, commit, time, dtype, ...).
struct ProducerOutputs {
  std::string name;
  std::map<std::string, std::string> provenance;
  AttentionOutputs outputs;
};

}  // namespace attn::data

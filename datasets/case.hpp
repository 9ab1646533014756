// One recorded TTT attention step: its inputs, and outputs recorded by any producer.
// The on-disk form is in case_store.hpp and docs/case-format.md.
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

/// The scale a case means: 0 stands for the default 1/sqrt(D) (what the writer stores).
double effective_scale(const CaseConfig& c);

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
  std::string rng = "";           ///< the generator's RNG scheme ("counter-splitmix64-v2"; "" before it was recorded)
};

/// Every tensor is in the case dtype.
struct CaseInputs {
  CaseConfig config;
  Tensor q;                        ///< [B, H, L, D]
  std::vector<Tensor> k, v;        ///< t + 1 blocks of [B, Hkv, L, D]
  std::vector<int64_t> valid_len;  ///< [B], right padding: tokens >= valid_len[b] are padding
  Tensor grad_out;                 ///< [B, H, L, D]
  std::optional<GeneratorParams> generator;
};

/// What a backend (or the reference) produces. lse: [B, H, L]; others as the inputs. A producer
/// may record only some tensors: the others have no storage (Tensor::has_storage() false) and
/// dk / dv are then empty or complete (t + 1 blocks).
struct AttentionOutputs {
  Tensor out, lse, dq;
  std::vector<Tensor> dk, dv;  ///< t + 1 blocks each, or none
};

/// Outputs recorded by one producer (or the reference), with free-form provenance attributes
/// (backend, device, torch_version, commit, time, dtype, ...) and the hash of the inputs they
/// were computed from (input_hash.hpp), which ties them to those inputs.
struct ProducerOutputs {
  std::string name;
  std::map<std::string, std::string> provenance;
  std::string input_hash;
  AttentionOutputs outputs;
};

/// The tensor names of a step with cache blocks 0..t, in this order: out, lse, dq, dk0..dk<t>,
/// dv0..dv<t>.
std::vector<std::string> output_tensor_names(int64_t t);

/// The expected shape of output `name` ("out", "lse", "dq", "dk<m>", "dv<m>"); empty when the
/// name is none of these for this config.
std::vector<int64_t> output_shape(const std::string& name, const CaseConfig& c);

/// The tensor `name` of `o`; nullptr when it is not there (not recorded, or no such name).
const Tensor* find_output(const AttentionOutputs& o, const std::string& name);
Tensor* find_output(AttentionOutputs& o, const std::string& name);

/// The names of the tensors `o` holds (with storage), in output_tensor_names order.
std::vector<std::string> recorded_tensors(const AttentionOutputs& o);

}  // namespace attn::data

// Attention shapes of real draft-model configurations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attn::data {

struct ModelPreset {
  std::string name;
  int64_t heads, kv_heads, head_dim;
  double rope_theta;
  std::string source;  ///< where the numbers come from
};

const std::vector<ModelPreset>& model_presets();
/// Throws InputError listing the known names when `name` is unknown.
const ModelPreset& find_preset(const std::string& name);

}  // namespace attn::data

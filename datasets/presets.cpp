#include "datasets/presets.hpp"

#include "datasets/errors.hpp"

namespace attn::data {

const std::vector<ModelPreset>& model_presets() {
  // Attention shapes of the target models whose EAGLE-3 drafts are trained (the draft layer
  // copies the target's attention shape). Head counts, head_dim and
  // rope_theta from the models' published config.json files.
  static const std::vector<ModelPreset> presets = {
      {"llama3-8b", 32, 8, 128, 500000.0, "Llama-3.1-8B config.json"},
      {"qwen3-30b-a3b", 32, 4, 128, 1000000.0, "Qwen3-30B-A3B config.json"},
      {"gpt-oss-20b", 64, 8, 64, 150000.0, "gpt-oss-20b config.json"},
      {"glm4-flash", 20, 4, 102, 1000000.0, "GLM-4 flash-class config (head_dim 102 is not a flash-kernel size)"},
  };
  return presets;
}

const ModelPreset& find_preset(const std::string& name) {
  std::string known;
  for (const auto& p : model_presets()) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw InputError("unknown preset '" + name + "': expected one of " + known +
                   " (or --heads/--kv-heads/--head-dim for a custom shape)");
}

}  // namespace attn::data

#include "kernels/bench/bench_grid.hpp"

#include <algorithm>
#include <set>

#include "kernels/bench/bench_workload.hpp"

namespace attn::bench {

const std::vector<Preset>& all_presets() {
  static const std::vector<Preset> p{
      {"llama3-8b-mha", 32, 32, 128}, {"llama3-8b", 32, 8, 128}, {"qwen3-30b-a3b", 32, 4, 128},
      {"gpt-oss-20b", 64, 8, 64},     {"tiny", 2, 1, 64},  // tiny: hidden, for CPU smoke tests
  };
  return p;
}

const Preset* find_preset(const std::string& name) {
  for (const auto& p : all_presets())
    if (p.name == name) return &p;
  return nullptr;
}

const std::vector<std::string>& all_backends() {
  static const std::vector<std::string> b{"sdpa",      "flash",       "flash-fa2", "floor",
                                          "floor-fa2", "floor-cudnn", "floor-sdpa"};
  return b;
}

bool is_floor(const std::string& backend) { return backend.rfind("floor", 0) == 0; }

std::string BenchSpec::name() const {
  return workload + "/" + backend + "/" + preset.name + "/L:" + std::to_string(L) + "/T:" + std::to_string(T);
}

std::string BenchSpec::group_name() const { return workload + "/" + preset.name; }

size_t count_groups(const std::vector<BenchSpec>& grid) {
  std::set<std::string> groups;
  for (const BenchSpec& s : grid) groups.insert(s.group_name());
  return groups.size();
}

BenchShape BenchSpec::shape() const {
  BenchShape s;
  s.workload = workload;
  s.backend = backend;
  s.H = preset.H;
  s.Hkv = preset.Hkv;
  s.D = preset.D;
  s.L = L;
  s.T = T;
  s.valid_len = valid_len;
  return s;
}

std::vector<BenchSpec> build_grid(const GridOptions& o) {
  std::vector<int64_t> seqs = o.seqs;
  std::sort(seqs.begin(), seqs.end());  // a smaller L runs first: an OOM skips larger L
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::vector<BenchSpec> grid;
  for (const auto& preset_name : o.presets) {
    const Preset* preset = find_preset(preset_name);
    if (!preset) continue;  // the caller validates names
    for (const auto& workload : o.workloads)
      for (int64_t T : o.ttt)
        for (const auto& backend : o.backends)
          for (int64_t L : seqs)
            grid.push_back({workload, backend, *preset, L, T, valid_lengths(workload, o.batch, L)});
  }
  return grid;
}

}  // namespace attn::bench

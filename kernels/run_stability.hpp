// Run-to-run variation of a backend: the same inputs run N times, every run's outputs compared
// element by element with the first run's. Kernels that accumulate with atomics (FA2's dq on a
// GPU) are not bitwise deterministic; this says how far apart two runs can be.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/backend.hpp"

namespace attn::kern {

struct TensorStability {
  std::string name;        ///< out, lse, dq, dk<m>, dv<m>
  int64_t elements = 0;    ///< per run
  int64_t differing = 0;   ///< the most elements that differed from run 1 in any later run
  double max_spread = 0;   ///< the largest |x_run - x_run1| over runs and elements
  double max_abs = 0;      ///< max |x| of run 1 (spread / max_abs is scale-free)
};

struct StabilityReport {
  std::string backend, device;
  int runs = 0;
  std::vector<TensorStability> tensors;
  bool deterministic() const;  ///< no element ever differed
};

/// Runs `backend` `runs` times (>= 2) on `c` and compares every run with the first.
/// `first` receives the first run's outputs (to record them as usual).
StabilityReport measure_stability(const Backend& backend, const TorchCase& c, int runs,
                                  TorchOutputs* first);

std::string format_stability_text(const StabilityReport& r);
/// "schema": "attn-harness.stability/1".
nlohmann::json stability_json(const StabilityReport& r);

}  // namespace attn::kern

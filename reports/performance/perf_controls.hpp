// Same-run controls for comparing benchmarks across nights and machines. A step time measured
// on one night is divided by a control measured in the same run on the same machine, so that
// what varies between machines and nights (clocks, thermals, one H200 against another) cancels:
//
//   control 1, "floor-sdpa": plain causal attention (PyTorch's own kernel, not this project's
//     code) of the same workload, preset, L and T, measured in the same job (PerfRun::job_of:
//     the same shard of a sharded night, whose jobs may run on different machines): the
//     closest same-shaped work whose speed only the machine and the PyTorch build decide;
//   control 2, "gemm": the run's measured bf16 GEMM rate (TFLOP/s), for benchmarks without the
//     first (and for floor-sdpa itself): time x rate, in ms x TFLOP/s.
//
// docs/benchmarks.md, "Comparing nights", has the reasoning and the measured noise.
#pragma once

#include <string>

#include "reports/performance/perf_results.hpp"

namespace attn::report {

struct ControlledTime {
  double value = 0;       ///< the step time over its control (NaN when there is none)
  double rel_noise = 0;   ///< within-run relative stddev of value (NaN: fewer than 2 repetitions)
  std::string control;    ///< "floor-sdpa", "gemm" or "" (none)
};

/// The controlled time of `r` in `run` (r must be ok for a finite value). With
/// `same_shape_control` false the first control is not used (a comparison where only one of the
/// two runs measured floor-sdpa of that shape controls both by the GEMM rate).
ControlledTime controlled_time(const PerfRun& run, const PerfResult& r, bool same_shape_control = true);

}  // namespace attn::report

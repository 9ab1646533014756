#include "reports/performance/perf_controls.hpp"

#include <cmath>
#include <limits>

namespace attn::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kControlBackend = "floor-sdpa";

double rel_sd(const PerfResult& r) {
  return r.noise_measured && r.median_ms > 0 ? r.stddev_ms / r.median_ms : kNaN;
}

}  // namespace

ControlledTime controlled_time(const PerfRun& run, const PerfResult& r, bool same_shape_control) {
  ControlledTime c{kNaN, kNaN, ""};
  if (!r.ok() || !(r.median_ms > 0)) return c;
  if (same_shape_control && r.key.structured() && r.key.backend != kControlBackend) {
    const PerfResult* ctl = run.find(r.key.workload, kControlBackend, r.key.preset, r.key.L, r.key.T);
    if (ctl && ctl->ok() && ctl->median_ms > 0 && run.job_of(*ctl) == run.job_of(r)) {
      c.value = r.median_ms / ctl->median_ms;
      c.rel_noise = std::hypot(rel_sd(r), rel_sd(*ctl));
      c.control = kControlBackend;
      return c;
    }
  }
  if (r.gemm_tflops > 0) {
    c.value = r.median_ms * r.gemm_tflops;
    c.rel_noise = rel_sd(r);  // the GEMM rate is a best-of-5: its noise is left out
    c.control = "gemm";
  }
  return c;
}

}  // namespace attn::report

#include "kernels/bench/bench_cost.hpp"

#include <algorithm>

#include "kernels/bench/bench_workload.hpp"

namespace attn::bench {
namespace {

constexpr double kFlashTflops = 260.0;       // flash*, floor*: useful TFLOP/s
constexpr double kSdpaSingletonWeight = 0.2;  // sdpa: extra L^2 work per singleton block
constexpr double kSetupSecondsPerRep = 0.03;
constexpr double kOomSeconds = 1.0;
constexpr double kOomMargin = 1.25;

bool is_sdpa(const BenchShape& s) { return s.backend == "sdpa"; }
bool is_floor(const BenchShape& s) { return s.backend.rfind("floor", 0) == 0; }

// sdpa: ms per score element (B H L^2 (1 + 0.2 t) summed over the timed steps).
double sdpa_ms_per_element(const std::string& base) {
  if (base == "fwd") return 1.3e-8;
  if (base == "bwd") return 2.1e-8;
  return 3.4e-8;
}

double step_ms_of(const BenchShape& s, const std::string& base) {
  const int64_t steps = base == "train_step" ? s.T : 1;
  if (is_sdpa(s)) {
    double elements = 0.0;
    const double B = double(s.valid_len.size()), l = double(s.L);
    const int64_t first = base == "train_step" ? 0 : s.T - 1;
    for (int64_t t = first; t < first + steps; ++t)
      elements += B * double(s.H) * l * l * (1.0 + kSdpaSingletonWeight * double(t));
    return sdpa_ms_per_element(base) * elements + 0.5 * double(steps);
  }
  const double flops = workload_flops(base, is_floor(s), s.valid_len, s.H, s.D, s.T);
  const double per_step = base == "fwd" ? 0.2 : 0.6;
  return flops / (kFlashTflops * 1e12) * 1e3 + per_step * double(steps);
}

}  // namespace

double estimate_step_ms(const BenchShape& s) { return step_ms_of(s, base_workload(s.workload)); }

double estimate_memory_gib(const BenchShape& s) {
  if (!is_sdpa(s)) return 0.0;
  const std::string base = base_workload(s.workload);
  const double fwd_bytes = s.T > 1 ? 14.2 : 12.0;
  const double bytes = base == "fwd" ? fwd_bytes
                       : base == "bwd" ? fwd_bytes + 10.0
                                       : 16.0 + 6.2 * double(s.T - 1);
  const double l = double(s.L);
  return bytes * double(s.valid_len.size()) * double(s.H) * l * l / double(1ull << 30);
}

double estimate_seconds(const BenchShape& s, const BenchRuns& r, double device_memory_gib) {
  const double setup = kSetupSecondsPerRep * double(r.repetitions);
  if (device_memory_gib > 0 && estimate_memory_gib(s) > kOomMargin * device_memory_gib)
    return setup + kOomSeconds;
  const std::string base = base_workload(s.workload);
  double run_ms = step_ms_of(s, base);
  if (base == "bwd") run_ms += step_ms_of(s, "fwd");  // its forward runs untimed before each step
  const int64_t warm = r.warmup + (r.repetitions - 1) * std::min<int64_t>(1, r.warmup);
  const int64_t runs = warm + r.repetitions * r.iterations;
  return setup + double(runs) * run_ms * 1e-3;
}

}  // namespace attn::bench

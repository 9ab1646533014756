// Benchmarks of the fp64 reference, in run order. What each one measures:
//   BM_StructuredPeakMemory  one forward + backward at L = 8192 (B = 1, H = Hkv = 8, D = 128,
//                            t = 6) under the split schedule (the one with the larger working
//                            set: it adds three [B, H, L] row statistics): inputs and
//                            TttResult::zeros are allocated and touched first, free heap pages
//                            are trimmed, the kernel's peak-RSS mark is reset
//                            (/proc/self/clear_refs); then scratch_MiB = VmHWM after - VmRSS
//                            before (the reference's working memory: per-thread tile buffers,
//                            row statistics, Eigen packing buffers, thread stacks),
//                            total_peak_MiB = VmHWM, inputs_results_MiB = the caller's buffers,
//                            tile_buffers_MiB = the expected size of the per-thread [tile, L]
//                            buffers, row_stats_MiB = the expected size of the row statistics.
//   BM_StructuredFwdBwd      structured_reference_into (forward + backward), B = 1, on the OpenMP
//                            default thread count, wall time, GFLOPS = structured_flops / wall
//                            time: useful flops only (the split schedule's recomputed products
//                            and the masked halves of diagonal tiles are not counted). Shapes
//                            (arguments L, H, Hkv, D, t, tile, sched with sched 0 = automatic,
//                            1 = fused, 2 = split):
//                              L 2048, H = Hkv = 8, D 128, t 6, tile 128 (and 64, 256 for tuning);
//                              llama3-8b as users run it: L 4096, H 32, Hkv 8, D 128, t 6;
//                              B * Hkv small: L 4096, H = Hkv = 8, D 128, t 6;
//                              B * Hkv = 1 (MQA, H 8, Hkv 1), L 2048, D 128, t 6: fewer kv heads
//                              than threads on any multi-core machine;
//                            each automatic, and the llama3-8b and H = Hkv = 8 shapes also with
//                            the schedule pinned to fused and to split. The counter `schedule`
//                            is the one that ran (1 fused, 2 split).
//   BM_EigenGemm             the machine's fp64 GEMM rate on the same threads in the same run:
//                            every thread runs its own single-threaded Eigen product at once
//                            (512^3, and a reference-shaped 128 x 2048 x 128); GFLOPS = 2 M K N
//                            * threads / wall time. The structured rate is judged against it.
//   BM_Dense                 dense_reference at L = 256 (same heads, D, t) for comparison; its
//                            GFLOPS counts the same useful flops, not the dense form's work.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <Eigen/Dense>
#include <fstream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <random>
#include <string>

#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"

namespace {

using namespace attn::ref;

/// Random fp64 inputs owning their buffers, B = 1. q, k ~ U(-2, 2) so rows are peaked.
struct Problem {
  TttShape shape;
  std::vector<double> q, g;
  std::vector<std::vector<double>> k, v;
  TttInputs in;

  Problem(int64_t L, int64_t H, int64_t Hkv, int64_t D, int64_t t, uint64_t seed = 1) {
    shape.B = 1, shape.H = H, shape.Hkv = Hkv, shape.L = L, shape.D = D, shape.t = t;
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> qk(-2.0, 2.0), unit(-1.0, 1.0);
    auto fill = [&gen](std::vector<double>& x, int64_t n, auto& d) {
      x.resize(static_cast<size_t>(n));
      for (double& e : x) e = d(gen);
    };
    fill(q, shape.q_numel(), qk);
    fill(g, shape.q_numel(), unit);
    k.resize(static_cast<size_t>(shape.blocks()));
    v.resize(static_cast<size_t>(shape.blocks()));
    for (int64_t m = 0; m < shape.blocks(); ++m) {
      fill(k[m], shape.kv_numel(), qk);
      fill(v[m], shape.kv_numel(), unit);
    }
    in.shape = shape;
    in.scale = 1.0 / std::sqrt(static_cast<double>(D));
    in.q = q.data();
    for (auto& b : k) in.k.push_back(b.data());
    for (auto& b : v) in.v.push_back(b.data());
    in.grad_out = g.data();
    in.valid_len = {L};
  }

  double bytes() const {
    return 8.0 * static_cast<double>(2 * shape.q_numel() + 2 * shape.blocks() * shape.kv_numel());
  }
};

void set_gflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOPS"] =
      benchmark::Counter(flops_per_iteration * 1e-9 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.counters["threads"] = omp_get_max_threads();
}

/// A "VmRSS:" style line of /proc/self/status, in KiB; -1 when absent.
double status_kib(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, key.size(), key) == 0) return std::stod(line.substr(key.size() + 1));
  return -1.0;
}

// Registered first, so it runs in a fresh process: earlier benchmarks leave the allocator's
// state (mmap threshold, arenas) such that scratch may reuse resident pages.
void BM_StructuredPeakMemory(benchmark::State& state) {
  const Problem p(state.range(0), 8, 8, 128, 6);
  TttResult r = TttResult::zeros(p.shape);
#if defined(__GLIBC__)
  // Give free heap pages left by earlier benchmarks back to the system: reused while resident,
  // they would hide scratch memory from the RSS difference.
  malloc_trim(0);
#endif
  // Reset the peak-RSS mark so VmHWM reports the peak from here on.
  bool reset = false;
  {
    std::ofstream clear("/proc/self/clear_refs");
    if (clear) {
      clear << "5";
      clear.flush();
      reset = static_cast<bool>(clear);
    }
  }
  StructuredOptions opt;
  opt.schedule = StructuredSchedule::split;
  const double rss_before = status_kib("VmRSS:");
  for (auto _ : state) {
    structured_reference_into(p.in, r, opt);
    benchmark::DoNotOptimize(r.out.data());
  }
  const double hwm = status_kib("VmHWM:");
  state.counters["scratch_MiB"] = (hwm - rss_before) / 1024.0;
  state.counters["total_peak_MiB"] = hwm / 1024.0;
  state.counters["inputs_results_MiB"] = 2.0 * p.bytes() / (1024.0 * 1024.0);
  // The two per-thread [tile, L] buffers (scores / P and dP / dS) and the row statistics (max,
  // sum, delta per query row), for comparison.
  state.counters["tile_buffers_MiB"] = omp_get_max_threads() * 2.0 * 128.0 *
                                       static_cast<double>(p.shape.L) * 8.0 / (1024.0 * 1024.0);
  state.counters["row_stats_MiB"] =
      3.0 * static_cast<double>(p.shape.lse_numel()) * 8.0 / (1024.0 * 1024.0);
  set_gflops(state, structured_flops(p.in));
  if (!reset)
    state.SetLabel(
        "clear_refs not writable: VmHWM is the process-lifetime peak, scratch_MiB "
        "an upper bound");
}
BENCHMARK(BM_StructuredPeakMemory)
    ->Arg(8192)
    ->ArgName("L")
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

StructuredSchedule schedule_arg(int64_t a) {
  return a == 1   ? StructuredSchedule::fused
         : a == 2 ? StructuredSchedule::split
                  : StructuredSchedule::automatic;
}

void BM_StructuredFwdBwd(benchmark::State& state) {
  const Problem p(state.range(0), state.range(1), state.range(2), state.range(3), state.range(4));
  TttResult r = TttResult::zeros(p.shape);
  StructuredOptions opt;
  opt.tile = state.range(5);
  opt.schedule = schedule_arg(state.range(6));
  // Which schedule ran: fused has one unit per (b, kv head), split many more.
  int64_t units = 0;
  opt.progress = [&units](int64_t, int64_t total) { units = total; };
  for (auto _ : state) {
    structured_reference_into(p.in, r, opt);
    benchmark::DoNotOptimize(r.out.data());
    benchmark::ClobberMemory();
  }
  set_gflops(state, structured_flops(p.in));
  state.counters["tile"] = static_cast<double>(opt.tile);
  state.counters["schedule"] = units == p.shape.B * p.shape.Hkv ? 1 : 2;
}
BENCHMARK(BM_StructuredFwdBwd)
    //     L     H  Hkv    D  t  tile sched
    ->Args({2048, 8, 8, 128, 6, 128, 0})
    ->Args({2048, 8, 8, 128, 6, 64, 0})
    ->Args({2048, 8, 8, 128, 6, 256, 0})
    ->Args({4096, 32, 8, 128, 6, 128, 0})  // llama3-8b, B = 1
    ->Args({4096, 32, 8, 128, 6, 128, 1})
    ->Args({4096, 32, 8, 128, 6, 128, 2})
    ->Args({4096, 8, 8, 128, 6, 128, 0})  // B * Hkv = 8
    ->Args({4096, 8, 8, 128, 6, 128, 1})
    ->Args({4096, 8, 8, 128, 6, 128, 2})
    ->Args({2048, 8, 1, 128, 6, 128, 0})  // B * Hkv = 1 (MQA)
    ->ArgNames({"L", "H", "Hkv", "D", "t", "tile", "sched"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_EigenGemm(benchmark::State& state) {
  using Mat = Eigen::MatrixXd;
  const Eigen::Index M = state.range(0), K = state.range(1), N = state.range(2);
  const int threads = omp_get_max_threads();
  std::vector<Mat> a(threads), b(threads), c(threads);
  for (int i = 0; i < threads; ++i) {
    a[i] = Mat::Random(M, K);
    b[i] = Mat::Random(K, N);
    c[i] = Mat::Zero(M, N);
  }
  for (auto _ : state) {
#pragma omp parallel num_threads(threads)
    {
      const int i = omp_get_thread_num();
      c[i].noalias() = a[i] * b[i];
    }
    benchmark::DoNotOptimize(c[0].data());
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * static_cast<double>(M * K * N) * threads);
}
BENCHMARK(BM_EigenGemm)
    ->Args({512, 512, 512})
    ->Args({128, 2048, 128})
    ->ArgNames({"M", "K", "N"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_Dense(benchmark::State& state) {
  const Problem p(state.range(0), 8, 8, 128, 6);
  for (auto _ : state) {
    TttResult r = dense_reference(p.in);
    benchmark::DoNotOptimize(r.out.data());
  }
  set_gflops(state, structured_flops(p.in));
}
BENCHMARK(BM_Dense)->Arg(256)->ArgName("L")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

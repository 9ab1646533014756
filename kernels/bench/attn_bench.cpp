// attn-bench: Google Benchmark runner over workload x backend x preset x L x T
// (docs/benchmarks.md). Benchmarks are named <workload>/<backend>/<preset>/L:<L>/T:<T>;
// `attn-harness report` reads the JSON this writes (--benchmark_out=FILE
// --benchmark_out_format=json).
//
// Workloads (inputs random bf16, created once outside the timed region, in the layout a
// projection gives them in training: [B, L, heads, D] storage viewed as [B, heads, L, D]):
//   train_step  T TTT steps: step t = 0..T-1 attends over cache blocks 0..t with a fresh q_t;
//               the forward of all T steps, then one backward with grad_out g_t for every step.
//   fwd         one forward at t = T - 1 (with autograd recording, as in training).
//   bwd         the backward of that one step (its forward runs outside the timed region).
//   train_step_padded  train_step over a padded batch: B = 2 x --batch, every second sequence
//               right-padded by L/8 (bench_workload.hpp); grad_out is zero on the invalid rows
//               of each step, as the training loss makes it.
// Sharding (--shard i/n): the grid (bench_grid.hpp) is split into n disjoint shards of whole
// (workload, preset) groups (every backend, L and T of a group in one shard, with the control
// floor-sdpa; flex runs the same groups in that job) balanced by estimated GPU time (bench_cost.hpp, shard_plan.hpp); a shard runs its benchmarks in the
// order of the unsharded run. --list prints a shard's benchmarks and estimates without running.
// Backends (the names are stable: they are the <backend> part of every benchmark name, and
// `attn-harness report` charts flash / floor as the TTT overhead):
//   flash        FlashBackend::apply with its defaults: block 0 through the device's fastest
//                flash kernel (CUDA: cuDNN where available, else FA2), the fused merge; the
//                steps of a train_step share their singleton blocks (FlashSharedBlocks).
//   flash-fa2    the same with FA2 on block 0 (FlashOptions::Block0::fa2).
//   floor        the flash path on block 0 alone (no singletons) with flash's block-0 kernel:
//                flash / floor is the cost of TTT over the same attention kernel.
//   floor-fa2    the same with FA2 on block 0 (the floor of flash-fa2).
//   floor-cudnn  the same with cuDNN on block 0 ("unsupported" where cuDNN attention is not).
//   floor-sdpa   plain causal at::scaled_dot_product_attention on block 0 (enable_gqa), autograd
//                backward: whatever kernel PyTorch picks for a plain causal attention, without
//                the LSE (on the H200 with torch 2.11: cuDNN). The fastest of the floors is the
//                real floor of a training step's attention.
//   sdpa         kern::sdpa_forward, the sdpa backend's eager explicit-mask composition; autograd
//                backward.
// Each benchmark's label says which kernels ran: the flash path's variant string
// ("block0=cuda-cudnn-dense (lse [B, H, L, 1]); merge=fused-cuda; ...") or, for floor-sdpa,
// "sdpa backend=<the backend at::_fused_sdp_choice picks>".
#include <benchmark/benchmark.h>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#if ATTN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime.h>
#endif

#include <ATen/SDPBackend.h>

#include "kernels/bench/bench_grid.hpp"
#include "kernels/bench/bench_workload.hpp"
#include "kernels/bench/shard_plan.hpp"
#include "kernels/detail/flash_block0.hpp"
#include "kernels/flash_backend.hpp"
#include "kernels/sdpa_backend.hpp"

#ifndef ATTN_BENCH_COMMIT
#define ATTN_BENCH_COMMIT "unknown"
#endif
#ifndef ATTN_BENCH_TORCH_VERSION
#define ATTN_BENCH_TORCH_VERSION ""
#endif

namespace {

using attn::bench::all_backends;
using attn::bench::BenchSpec;
using attn::bench::is_floor;

struct Options {
  std::vector<std::string> backends{"sdpa", "flash", "floor"};
  std::vector<std::string> presets;  // default by device
  std::vector<int64_t> seqs;         // default by device
  std::vector<int64_t> ttt;          // default by device
  std::vector<std::string> workloads = attn::bench::all_workloads();
  int64_t batch = 1;
  attn::bench::Shard shard;     // 1/1 unless --shard
  bool sharded = false;
  bool list = false;            // --list: print the (shard's) benchmarks and estimates, run nothing
  double memory_gib = 140.0;    // --shard-memory-gib: the device memory the cost model assumes
  std::string device = "cuda";
  std::string commit = ATTN_BENCH_COMMIT;
  int64_t iterations = 0;  // 0: by L
  int64_t warmup = 2;
  int64_t repetitions = 3;  // unless --benchmark_repetitions is given
};

Options g_opt;
double g_gemm_tflops = 0.0;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int64_t> split_int(const std::string& flag, const std::string& s) {
  std::vector<int64_t> out;
  for (const auto& x : split(s)) {
    char* end = nullptr;
    const long long v = std::strtoll(x.c_str(), &end, 10);
    int64_t mult = 1;
    if (end && (*end == 'K' || *end == 'k')) {
      mult = 1024;
      ++end;
    }
    if (!end || *end != '\0' || v <= 0) {
      std::fprintf(stderr, "attn-bench: %s: expected positive integers, found '%s'\n", flag.c_str(),
                   x.c_str());
      std::exit(2);
    }
    out.push_back(static_cast<int64_t>(v) * mult);
  }
  return out;
}

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: attn-bench [--backends sdpa,flash,floor (also flash-fa2, floor-fa2,\n"
               "                  floor-cudnn, floor-sdpa; all: the seven)] [--presets llama3-8b-mha,\n"
               "                  llama3-8b,qwen3-30b-a3b,gpt-oss-20b] [--seqs 1024,...,32768] [--ttt 1,3,7]\n"
               "                  [--workloads train_step,fwd,bwd,train_step_padded]\n"
               "                  [--batch 1] [--device cuda|cpu] [--commit SHA] [--iterations N]\n"
               "                  [--warmup N] [--reps N] [--shard i/n (1 <= i <= n)] [--list]\n"
               "                  [--shard-memory-gib 140] [Google Benchmark flags, e.g.\n"
               "                  --benchmark_out=FILE --benchmark_out_format=json "
               "--benchmark_repetitions=N --benchmark_filter=RE]\n");
  std::exit(code);
}

bool has_flag(const std::vector<char*>& args, const char* prefix) {
  for (char* a : args)
    if (std::string(a).rfind(prefix, 0) == 0) return true;
  return false;
}

// Removes our flags from argv (both "--flag value" and "--flag=value"); the rest goes to
// benchmark::Initialize.
std::vector<char*> parse_args(int argc, char** argv) {
  std::vector<char*> rest{argv[0]};
  bool seqs = false, ttt = false, presets = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") usage(0);
    if (a == "--list") {
      g_opt.list = true;
      continue;
    }
    if (a.rfind("--benchmark_", 0) == 0 || a.rfind("--v=", 0) == 0 || a == "--v") {
      rest.push_back(argv[i]);
      continue;
    }
    std::string key = a, value;
    const auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      key = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else {
      if (a.rfind("--", 0) != 0) {
        std::fprintf(stderr, "attn-bench: unexpected argument '%s'\n", a.c_str());
        usage(2);
      }
      if (i + 1 >= argc) {
        std::fprintf(stderr, "attn-bench: %s needs a value\n", a.c_str());
        usage(2);
      }
      value = argv[++i];
    }
    if (key == "--backends") g_opt.backends = value == "all" ? all_backends() : split(value);
    else if (key == "--presets") { g_opt.presets = split(value); presets = true; }
    else if (key == "--seqs") { g_opt.seqs = split_int(key, value); seqs = true; }
    else if (key == "--ttt") { g_opt.ttt = split_int(key, value); ttt = true; }
    else if (key == "--workloads") g_opt.workloads = split(value);
    else if (key == "--batch") g_opt.batch = split_int(key, value).at(0);
    else if (key == "--device") g_opt.device = value;
    else if (key == "--commit") g_opt.commit = value;
    else if (key == "--iterations") g_opt.iterations = split_int(key, value).at(0);
    else if (key == "--warmup") g_opt.warmup = std::stoll(value);
    else if (key == "--reps") g_opt.repetitions = split_int(key, value).at(0);
    else if (key == "--shard") {
      std::string why;
      if (!attn::bench::parse_shard(value, g_opt.shard, why)) {
        std::fprintf(stderr, "attn-bench: --shard: %s\n", why.c_str());
        std::exit(2);
      }
      g_opt.sharded = true;
    } else if (key == "--shard-memory-gib") {
      char* end = nullptr;
      g_opt.memory_gib = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(g_opt.memory_gib > 0)) {
        std::fprintf(stderr, "attn-bench: --shard-memory-gib: expected a positive number of GiB, found '%s'\n",
                     value.c_str());
        std::exit(2);
      }
    }
    else {
      std::fprintf(stderr, "attn-bench: unknown flag '%s'\n", key.c_str());
      usage(2);
    }
  }
  if (g_opt.device != "cuda" && g_opt.device != "cpu") {
    std::fprintf(stderr, "attn-bench: --device: expected cuda or cpu, found '%s'\n", g_opt.device.c_str());
    std::exit(2);
  }
  const bool cpu = g_opt.device == "cpu";
  if (!presets) g_opt.presets = cpu ? std::vector<std::string>{"tiny"}
                                    : std::vector<std::string>{"llama3-8b-mha", "llama3-8b",
                                                               "qwen3-30b-a3b", "gpt-oss-20b"};
  if (!seqs) g_opt.seqs = cpu ? std::vector<int64_t>{128, 256}
                              : std::vector<int64_t>{1024, 2048, 4096, 8192, 16384, 32768};
  if (!ttt) g_opt.ttt = cpu ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{1, 3, 7};
  for (const auto& b : g_opt.backends)
    if (std::find(all_backends().begin(), all_backends().end(), b) == all_backends().end()) {
      std::fprintf(stderr, "attn-bench: --backends: unknown backend '%s' (sdpa, flash, flash-fa2, "
                   "floor, floor-fa2, floor-cudnn, floor-sdpa; flex runs through "
                   "kernels/flex/flex_adapter.py bench)\n", b.c_str());
      std::exit(2);
    }
  for (const auto& w : g_opt.workloads)
    if (!attn::bench::is_workload(w)) {
      std::fprintf(stderr, "attn-bench: --workloads: unknown workload '%s' (train_step, fwd, bwd, "
                   "train_step_padded)\n", w.c_str());
      std::exit(2);
    }
  for (const auto& p : g_opt.presets) {
    if (!attn::bench::find_preset(p)) {
      std::fprintf(stderr, "attn-bench: --presets: unknown preset '%s'\n", p.c_str());
      std::exit(2);
    }
  }
  return rest;
}

// ---- device helpers --------------------------------------------------------------------------

bool on_cuda() { return g_opt.device == "cuda"; }

void synchronize() {
#if ATTN_WITH_CUDA
  if (on_cuda()) torch::cuda::synchronize();
#endif
}

/// Elapsed milliseconds of `fn`, on CUDA between two events on the current stream.
template <class Fn>
double time_ms(Fn&& fn) {
#if ATTN_WITH_CUDA
  if (on_cuda()) {
    cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
    cudaEvent_t start = nullptr, stop = nullptr;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    struct Destroy {
      cudaEvent_t a, b;
      ~Destroy() {
        cudaEventDestroy(a);
        cudaEventDestroy(b);
      }
    } destroy{start, stop};
    cudaEventRecord(start, stream);
    fn();
    cudaEventRecord(stop, stream);
    const cudaError_t err = cudaEventSynchronize(stop);
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("cudaEventSynchronize: ") + cudaGetErrorString(err));
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    return ms;
  }
#endif
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

/// Writes a buffer of twice the L2 size so no iteration finds its inputs in L2 (CUDA only).
void flush_l2() {
#if ATTN_WITH_CUDA
  if (!on_cuda()) return;
  static at::Tensor buffer;
  if (!buffer.defined()) {
    const int64_t l2 = std::max<int64_t>(at::cuda::getCurrentDeviceProperties()->l2CacheSize, 1 << 20);
    buffer = at::empty({2 * l2}, at::TensorOptions().dtype(at::kByte).device(at::kCUDA));
  }
  buffer.zero_();
#endif
}

/// The caching allocator's allocated bytes on the current device: now, or the peak since
/// reset_peak() (0 on the CPU, which keeps no such statistics).
int64_t allocated_bytes(bool peak) {
#if ATTN_WITH_CUDA
  if (on_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device());
    const auto& stat = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
    return peak ? stat.peak : stat.current;
  }
#endif
  (void)peak;
  return 0;
}
int64_t allocated_now() { return allocated_bytes(false); }
int64_t allocated_peak() { return allocated_bytes(true); }

void reset_peak() {
#if ATTN_WITH_CUDA
  if (on_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(c10::cuda::current_device());
#endif
}

void free_cached() {
#if ATTN_WITH_CUDA
  if (on_cuda()) {
    try {
      torch::cuda::synchronize();
    } catch (...) {
    }
    c10::cuda::CUDACachingAllocator::emptyCache();
  }
#endif
}

at::Device device() { return on_cuda() ? at::Device(at::kCUDA) : at::Device(at::kCPU); }

/// bf16 GEMM rate (TFLOP/s): 8192^3 on CUDA (1024^3 on the CPU), best of 5.
double measure_gemm_tflops() {
  c10::NoGradGuard no_grad;
  const int64_t n = on_cuda() ? 8192 : 1024;
  const auto opts = at::TensorOptions().dtype(at::kBFloat16).device(device());
  const at::Tensor a = at::randn({n, n}, opts), b = at::randn({n, n}, opts);
  at::Tensor c;
  for (int i = 0; i < 2; ++i) c = at::matmul(a, b);
  synchronize();
  double best = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 5; ++i) best = std::min(best, time_ms([&] { c = at::matmul(a, b); }));
  return 2.0 * double(n) * double(n) * double(n) / (best * 1e-3) / 1e12;
}

// ---- backends --------------------------------------------------------------------------------

struct Inputs {
  std::vector<at::Tensor> q, g, k, v;  // q_t, g_t for t < T; k_m, v_m for m < T
  std::vector<int64_t> valid_len;
  double scale = 1.0;
};

/// The flash path's options of a flash* / floor* backend.
attn::kern::FlashOptions flash_options(const std::string& backend) {
  attn::kern::FlashOptions o;
  if (backend == "flash-fa2" || backend == "floor-fa2") o.block0 = attn::kern::FlashOptions::Block0::fa2;
  if (backend == "floor-cudnn") o.block0 = attn::kern::FlashOptions::Block0::cudnn;
  return o;
}

const char* sdp_backend_name(int64_t choice) {
  switch (static_cast<at::SDPBackend>(choice)) {
    case at::SDPBackend::math: return "math";
    case at::SDPBackend::flash_attention: return "flash_attention";
    case at::SDPBackend::efficient_attention: return "efficient_attention";
    case at::SDPBackend::cudnn_attention: return "cudnn_attention";
    case at::SDPBackend::overrideable: return "overrideable";
    case at::SDPBackend::error: return "error";
  }
  return "unknown";
}

/// One TTT step's forward at step t (blocks 0..t; the floors use block 0 alone). `shared`: the
/// training step's shared singleton blocks (flash backends); `label` (when given) receives the
/// kernels that ran (the flash path's variant of this step; floor-sdpa: set once).
at::Tensor step_forward(const std::string& backend, const Inputs& in, const at::Tensor& q, int64_t t,
                        const at::Tensor& mask, attn::kern::FlashSharedBlocks* shared,
                        std::string* label) {
  std::string variant;
  std::string* want = label ? &variant : nullptr;
  at::Tensor out;
  if (backend == "floor-sdpa") {
    const bool gqa = in.k[0].size(1) != q.size(1);
    if (want && !label->empty()) want = nullptr;  // the choice costs host time: ask once
    if (want)
      variant = std::string("sdpa backend=") +
                sdp_backend_name(at::_fused_sdp_choice(q, in.k[0], in.v[0], std::nullopt, 0.0,
                                                       /*is_causal=*/true, in.scale, gqa));
    out = at::scaled_dot_product_attention(q, in.k[0], in.v[0], std::nullopt, 0.0,
                                           /*is_causal=*/true, in.scale, gqa);
  } else if (is_floor(backend)) {
    out = attn::kern::FlashBackend::apply(q, {in.k[0]}, {in.v[0]}, in.valid_len, in.scale,
                                          flash_options(backend), want)[0];
  } else {
    std::vector<at::Tensor> k(in.k.begin(), in.k.begin() + t + 1), v(in.v.begin(), in.v.begin() + t + 1);
    if (backend == "flash" || backend == "flash-fa2")
      out = attn::kern::FlashBackend::apply(q, k, v, in.valid_len, in.scale, flash_options(backend),
                                            want, shared)[0];
    else
      out = attn::kern::sdpa_forward(q, k, v, mask, in.scale).out;
  }
  if (want && !variant.empty()) *label = variant;
  return out;
}

/// Empty when the backend can run here, else the "unsupported: ..." reason.
std::string unsupported_reason(const std::string& backend, int64_t B, int64_t H, int64_t L, int64_t D) {
  if (backend != "floor-cudnn") return "";
  std::string why;
  if (attn::kern::detail::cudnn_block0_available(device(), at::kBFloat16, B, H, L, D, &why)) return "";
  return "unsupported: cuDNN block-0 kernel: " + why;
}

// ---- the benchmark ---------------------------------------------------------------------------

/// The benchmarks whose smaller L ran out of memory skip larger L: one key per
/// workload/backend/preset/T.
std::string oom_key(const BenchSpec& s) {
  return s.workload + "/" + s.backend + "/" + s.preset.name + "/T:" + std::to_string(s.T);
}

std::map<std::string, int64_t> g_oom_at;  // oom_key -> smallest L that ran out of memory
std::set<std::string> g_warmed;

bool is_oom_message(const std::string& m) {
  std::string lower = m;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("out of memory") != std::string::npos;
}

std::string first_line(const std::string& m, size_t max_len = 300) {
  std::string s = m.substr(0, m.find('\n'));
  if (s.size() > max_len) s = s.substr(0, max_len) + "...";
  return s;
}

void run_benchmark(benchmark::State& state, const BenchSpec& s) {
  const std::string name = s.name();
  std::fprintf(stderr, "[attn-bench] %s\n", name.c_str());
  std::fflush(stderr);
  const int64_t B = int64_t(s.valid_len.size()), H = s.preset.H, Hkv = s.preset.Hkv, D = s.preset.D, L = s.L, T = s.T;
  state.counters["B"] = double(B);
  state.counters["H"] = double(H);
  state.counters["Hkv"] = double(Hkv);
  state.counters["D"] = double(D);
  state.counters["L"] = double(L);
  state.counters["T"] = double(T);

  if (const auto it = g_oom_at.find(oom_key(s)); it != g_oom_at.end() && it->second <= L) {
    state.SkipWithError(it->second < L ? "OOM: skipped (smaller L ran out of memory)"
                                       : "OOM: skipped (ran out of memory in an earlier repetition)");
    return;
  }

  if (const std::string why = unsupported_reason(s.backend, B, H, L, D); !why.empty()) {
    std::fprintf(stderr, "[attn-bench]   %s\n", why.c_str());
    state.SkipWithError(why.c_str());
    return;
  }

  double total_ms = 0.0, peak_bytes = 0.0;
  int64_t iters = 0;
  std::string failure, label;
  bool oom = false;
  try {
    c10::AutoGradMode grad_mode(true);
    Inputs in;
    {
      c10::NoGradGuard no_grad;
      const auto opts = at::TensorOptions().dtype(at::kBFloat16).device(device());
      // [B, L, heads, D] storage seen as [B, heads, L, D], as q_proj(x).view(B, L, H, D)
      // .transpose(1, 2) gives it (and grad_out arrives through out.transpose(1, 2)).
      auto projected = [&](int64_t heads) { return at::randn({B, L, heads, D}, opts).transpose(1, 2); };
      for (int64_t t = 0; t < T; ++t) {
        in.q.push_back(projected(H).requires_grad_(true));
        in.g.push_back(projected(H));
        in.k.push_back(projected(Hkv).requires_grad_(true));
        in.v.push_back(projected(Hkv).requires_grad_(true));
      }
    }
    in.valid_len = s.valid_len;
    in.scale = 1.0 / std::sqrt(double(D));
    const auto opts = at::TensorOptions().dtype(at::kBFloat16).device(device());
    if (attn::bench::is_padded(s.workload)) {
      // The training loss masks the invalid rows of step t (i >= valid_len - t): zero grad_out.
      c10::NoGradGuard no_grad;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t b = 0; b < B; ++b) {
          const int64_t valid = std::max<int64_t>(in.valid_len[size_t(b)] - t, 0);
          if (valid < L) in.g[size_t(t)].select(0, b).narrow(1, valid, L - valid).zero_();
        }
    }
    const at::Tensor valid_len_t =
        at::tensor(in.valid_len, at::TensorOptions().dtype(at::kLong)).to(device());

    // One timed step of the workload; returns ms and records the peak above the pre-step allocation.
    auto one = [&]() -> std::pair<double, double> {
      if (s.workload == "bwd") {
        const int64_t t = T - 1;
        const at::Tensor mask = s.backend == "sdpa" ? attn::kern::sdpa_mask(valid_len_t, L, opts) : at::Tensor();
        attn::kern::FlashSharedBlocks shared;  // lives until the backward below is done
        at::Tensor out = step_forward(s.backend, in, in.q[t], t, mask, &shared, &label);
        std::vector<at::Tensor> wrt{in.q[t]};
        const int64_t blocks = is_floor(s.backend) ? 1 : t + 1;
        for (int64_t m = 0; m < blocks; ++m) wrt.push_back(in.k[m]);
        for (int64_t m = 0; m < blocks; ++m) wrt.push_back(in.v[m]);
        synchronize();
        flush_l2();
        const int64_t before = allocated_now();
        reset_peak();
        std::vector<at::Tensor> grads;
        const double ms = time_ms([&] { grads = torch::autograd::grad({out}, wrt, {in.g[t]}, std::nullopt, false, true); });
        const double peak = double(allocated_peak() - before);
        return {ms, peak};
      }
      flush_l2();
      const int64_t before = allocated_now();
      reset_peak();
      const double ms = time_ms([&] {
        const at::Tensor mask = s.backend == "sdpa" ? attn::kern::sdpa_mask(valid_len_t, L, opts) : at::Tensor();
        // One training step's shared singleton blocks (the flash backends; others ignore it).
        attn::kern::FlashSharedBlocks shared;
        if (s.workload == "fwd") {
          at::Tensor out = step_forward(s.backend, in, in.q[T - 1], T - 1, mask, &shared, &label);
          (void)out;
          return;
        }
        std::vector<at::Tensor> outs, wrt;
        for (int64_t t = 0; t < T; ++t)
          outs.push_back(step_forward(s.backend, in, in.q[t], t, mask, &shared, &label));
        for (int64_t t = 0; t < T; ++t) wrt.push_back(in.q[t]);
        const int64_t blocks = is_floor(s.backend) ? 1 : T;
        for (int64_t m = 0; m < blocks; ++m) wrt.push_back(in.k[m]);
        for (int64_t m = 0; m < blocks; ++m) wrt.push_back(in.v[m]);
        const auto grads = torch::autograd::grad(outs, wrt, in.g, std::nullopt, false, true);
        (void)grads;
      });
      const double peak = double(allocated_peak() - before);
      return {ms, peak};
    };

    const int64_t warmups = g_warmed.count(name) ? std::min<int64_t>(1, g_opt.warmup) : g_opt.warmup;
    for (int64_t i = 0; i < warmups; ++i) one();
    g_warmed.insert(name);

    for (auto _ : state) {
      const auto [ms, peak] = one();
      state.SetIterationTime(ms * 1e-3);
      total_ms += ms;
      peak_bytes = std::max(peak_bytes, peak);
      ++iters;
    }
  } catch (const c10::OutOfMemoryError& e) {
    oom = true;
    failure = "OOM: " + first_line(e.what_without_backtrace());
  } catch (const c10::Error& e) {
    const std::string m = e.what_without_backtrace();
    oom = is_oom_message(m);
    failure = (oom ? "OOM: " : "error: ") + first_line(m);
  } catch (const std::exception& e) {
    const std::string m = e.what();
    oom = is_oom_message(m);
    failure = (oom ? "OOM: " : "error: ") + first_line(m);
  }
  if (!failure.empty()) {
    free_cached();
    if (oom) {
      auto it = g_oom_at.find(oom_key(s));
      if (it == g_oom_at.end() || it->second > L) g_oom_at[oom_key(s)] = L;
    }
    std::fprintf(stderr, "[attn-bench]   %s\n", failure.c_str());
    state.SkipWithError(failure.c_str());
    return;
  }
  free_cached();
  if (!label.empty()) state.SetLabel(label);
  const double flops = attn::bench::workload_flops(s.workload, is_floor(s.backend), s.valid_len, H, D, T);
  const double tflops = iters > 0 && total_ms > 0 ? flops * double(iters) / (total_ms * 1e-3) / 1e12 : 0.0;
  state.counters["TFLOPS"] = tflops;
  // Counters that are 0 in every repetition would make the cv aggregate NaN (not JSON): a failed
  // GEMM reference leaves gemm_TFLOPS / pct_of_gemm out.
  if (g_gemm_tflops > 0) {
    state.counters["gemm_TFLOPS"] = g_gemm_tflops;
    state.counters["pct_of_gemm"] = 100.0 * tflops / g_gemm_tflops;
  }
  // No caching-allocator statistics on the CPU: no peak there (a constant 0 would make Google
  // Benchmark's cv aggregate write NaN, which is not JSON).
  if (on_cuda() && peak_bytes > 0) state.counters["peak_mem_GiB"] = peak_bytes / double(1ull << 30);
}

int64_t iterations_for(int64_t L) {
  if (g_opt.iterations > 0) return g_opt.iterations;
  if (L <= 2048) return 10;  // launch-bound and noisy: more iterations are cheap here
  if (L <= 4096) return 5;
  if (L <= 16384) return 2;
  return 1;
}

/// Value of a Google Benchmark flag given as PREFIX<int> (e.g. "--benchmark_repetitions=5").
int64_t int_flag(const std::vector<char*>& args, const char* prefix, int64_t fallback) {
  for (char* a : args) {
    const std::string s(a);
    if (s.rfind(prefix, 0) == 0) {
      const long long v = std::atoll(s.c_str() + std::strlen(prefix));
      return v > 0 ? v : fallback;
    }
  }
  return fallback;
}

/// One stderr line: this shard's size and estimate, and every shard's estimate (the balance).
void print_shard_summary(const attn::bench::ShardSelection& sel) {
  double total = 0.0, max = 0.0;
  for (double s : sel.shard_seconds) {
    total += s;
    max = std::max(max, s);
  }
  const double mean = total / double(sel.shard_seconds.size());
  std::fprintf(stderr, "[attn-bench] shard %s: %zu of %zu benchmarks, estimated %.0f s of GPU time "
               "(+%.0f s start; all shards: %.0f s, max / mean %.3f; bench_cost.hpp, %g GiB)\n",
               g_opt.shard.text().c_str(), sel.specs.size(), sel.grid_size,
               sel.shard_seconds[size_t(g_opt.shard.index - 1)], attn::bench::kProcessStartSeconds, total,
               mean > 0 ? max / mean : 1.0, g_opt.memory_gib);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = parse_args(argc, argv);
  const bool user_reps = has_flag(rest, "--benchmark_repetitions");

  // The grid, and the part of it this shard runs (all of it without --shard). The plan depends
  // on the flags alone, never on the device, so the n jobs of a night agree on it.
  const std::vector<BenchSpec> grid = attn::bench::build_grid(
      {g_opt.backends, g_opt.presets, g_opt.workloads, g_opt.seqs, g_opt.ttt, g_opt.batch});
  const size_t groups = attn::bench::count_groups(grid);
  if (int64_t(groups) < g_opt.shard.count) {
    std::fprintf(stderr, "attn-bench: --shard %s: expected at most %zu shards (the grid has %zu "
                 "(workload, preset) groups, the unit a shard takes whole), found %lld\n",
                 g_opt.shard.text().c_str(), groups, groups, static_cast<long long>(g_opt.shard.count));
    return 2;
  }
  const int64_t reps = user_reps ? int_flag(rest, "--benchmark_repetitions=", g_opt.repetitions)
                                 : g_opt.repetitions;
  const attn::bench::ShardSelection shard = attn::bench::select_shard(
      grid, g_opt.shard,
      [&](int64_t L) { return attn::bench::BenchRuns{g_opt.warmup, reps, iterations_for(L)}; },
      g_opt.memory_gib);
  print_shard_summary(shard);
  if (g_opt.list) {
    for (size_t i = 0; i < shard.specs.size(); ++i)
      std::printf("%s\t%.2f\n", shard.specs[i].name().c_str(), shard.seconds[i]);
    return 0;
  }

  std::string device_name = "cpu";
  if (on_cuda()) {
#if ATTN_WITH_CUDA
    if (!torch::cuda::is_available()) {
      std::fprintf(stderr, "attn-bench: --device cuda: no CUDA device is available (use --device cpu)\n");
      return 2;
    }
    device_name = at::cuda::getCurrentDeviceProperties()->name;
#else
    std::fprintf(stderr, "attn-bench: built without CUDA (ATTN_WITH_CUDA=OFF): use --device cpu\n");
    return 2;
#endif
  }
  try {
    g_gemm_tflops = measure_gemm_tflops();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attn-bench: the GEMM reference failed: %s\n", e.what());
  }
  free_cached();
  std::fprintf(stderr, "[attn-bench] device %s, bf16 GEMM %.1f TFLOP/s\n", device_name.c_str(), g_gemm_tflops);

  std::string torch_version = ATTN_BENCH_TORCH_VERSION;
  if (torch_version.empty()) torch_version = "unknown";
  benchmark::AddCustomContext("device", device_name);
  benchmark::AddCustomContext("torch_version", torch_version);
  benchmark::AddCustomContext("commit", g_opt.commit);
  {
    std::ostringstream gemm;
    gemm.precision(6);
    gemm << g_gemm_tflops;
    benchmark::AddCustomContext("gemm_bf16_tflops", gemm.str());
  }
  if (g_opt.sharded) {
    std::ostringstream estimate;
    estimate.precision(4);
    estimate << shard.shard_seconds[size_t(g_opt.shard.index - 1)];
    benchmark::AddCustomContext("shard", g_opt.shard.text());
    benchmark::AddCustomContext("shard_estimated_s", estimate.str());
  }

  for (size_t i = 0; i < shard.specs.size(); ++i) {
    const BenchSpec spec = shard.specs[i];
    auto* b = benchmark::RegisterBenchmark(spec.name().c_str(),
                                           [spec](benchmark::State& st) { run_benchmark(st, spec); });
    b->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(iterations_for(spec.L));
    if (!user_reps) b->Repetitions(static_cast<int>(g_opt.repetitions));
    b->ReportAggregatesOnly(false);
  }

  int bargc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&bargc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, rest.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

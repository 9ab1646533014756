#include "kernels/bench/bench_workload.hpp"

#include <algorithm>

namespace attn::bench {

const std::vector<std::string>& all_workloads() {
  static const std::vector<std::string> w{"train_step", "fwd", "bwd", "train_step_padded"};
  return w;
}

bool is_workload(const std::string& w) {
  return std::find(all_workloads().begin(), all_workloads().end(), w) != all_workloads().end();
}

bool is_padded(const std::string& workload) { return workload == "train_step_padded"; }

std::string base_workload(const std::string& workload) {
  return is_padded(workload) ? "train_step" : workload;
}

std::vector<int64_t> valid_lengths(const std::string& workload, int64_t batch, int64_t L) {
  if (!is_padded(workload)) return std::vector<int64_t>(static_cast<size_t>(batch), L);
  std::vector<int64_t> v;
  for (int64_t b = 0; b < batch; ++b) {
    v.push_back(L);
    v.push_back(L - L / 8);
  }
  return v;
}

int64_t timed_steps(const std::string& workload, int64_t T) {
  return base_workload(workload) == "train_step" ? T : 1;
}

double step_forward_flops(int64_t H, int64_t n, int64_t D, int64_t t) {
  const double h = double(H), l = double(n), d = double(D);
  return 4.0 * h * l * l * d / 2.0 + 4.0 * h * l * d * double(t);
}

double workload_flops(const std::string& workload, bool floor, const std::vector<int64_t>& valid_len,
                      int64_t H, int64_t D, int64_t T) {
  auto singletons = [&](int64_t t) { return floor ? int64_t(0) : t; };
  const std::string w = base_workload(workload);
  double f = 0.0;
  for (int64_t n : valid_len) {
    if (w == "fwd") f += step_forward_flops(H, n, D, singletons(T - 1));
    else if (w == "bwd") f += 2.5 * step_forward_flops(H, n, D, singletons(T - 1));
    else
      for (int64_t t = 0; t < T; ++t) f += 3.5 * step_forward_flops(H, n, D, singletons(t));
  }
  return f;
}

}  // namespace attn::bench

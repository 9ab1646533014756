#include "kernels/run_stability.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "datasets/errors.hpp"

namespace attn::kern {
namespace {

std::vector<std::pair<std::string, at::Tensor>> named(const TorchOutputs& o) {
  std::vector<std::pair<std::string, at::Tensor>> v{{"out", o.out}, {"lse", o.lse}, {"dq", o.dq}};
  for (size_t m = 0; m < o.dk.size(); ++m) v.push_back({"dk" + std::to_string(m), o.dk[m]});
  for (size_t m = 0; m < o.dv.size(); ++m) v.push_back({"dv" + std::to_string(m), o.dv[m]});
  return v;
}

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", x);
  return buf;
}

}  // namespace

bool StabilityReport::deterministic() const {
  for (const auto& t : tensors)
    if (t.differing) return false;
  return true;
}

StabilityReport measure_stability(const Backend& backend, const TorchCase& c, int runs,
                                  TorchOutputs* first) {
  if (runs < 2) throw data::InputError("--repeat needs at least 2 runs, found " + std::to_string(runs));
  StabilityReport r;
  r.backend = backend.name();
  r.device = c.q.device().str();
  r.runs = runs;
  const TorchOutputs base = backend.run(c);
  const auto base_tensors = named(base);
  for (const auto& [name, x] : base_tensors) {
    TensorStability t;
    t.name = name;
    t.elements = x.defined() ? x.numel() : 0;
    t.max_abs = x.defined() ? x.detach().abs().max().to(at::kDouble).item<double>() : 0;
    r.tensors.push_back(t);
  }
  for (int i = 1; i < runs; ++i) {
    const TorchOutputs o = backend.run(c);
    const auto again = named(o);
    for (size_t k = 0; k < again.size() && k < base_tensors.size(); ++k) {
      const at::Tensor& a = base_tensors[k].second;
      const at::Tensor& b = again[k].second;
      if (!a.defined() || !b.defined()) continue;
      const at::Tensor d = (b.to(at::kDouble) - a.to(at::kDouble)).abs();
      // NaN in both runs at the same place is the same value; NaN in one is a difference.
      const at::Tensor nan_mismatch = at::isnan(a).logical_xor(at::isnan(b));
      const int64_t differing = (d.gt(0).logical_or(nan_mismatch)).sum().item<int64_t>();
      TensorStability& t = r.tensors[k];
      t.differing = std::max(t.differing, differing);
      const at::Tensor finite = at::where(at::isnan(d), at::zeros_like(d), d);
      t.max_spread = std::max(t.max_spread, finite.max().item<double>());
    }
  }
  if (first) *first = base;
  return r;
}

std::string format_stability_text(const StabilityReport& r) {
  std::ostringstream o;
  o << r.backend << " on " << r.device << ", " << r.runs << " runs on the same inputs ("
    << (r.deterministic() ? "bitwise identical" : "NOT bitwise deterministic") << "):\n";
  size_t w = 6;
  for (const auto& t : r.tensors) w = std::max(w, t.name.size());
  char line[256];
  std::snprintf(line, sizeof line, "  %-*s  %12s  %14s  %10s  %10s  %14s\n", int(w), "tensor",
                "elements", "differing (max)", "max spread", "max |x|", "spread/max|x|");
  o << line;
  for (const auto& t : r.tensors) {
    std::snprintf(line, sizeof line, "  %-*s  %12lld  %14lld  %10s  %10s  %14s\n", int(w),
                  t.name.c_str(), (long long)t.elements, (long long)t.differing,
                  sci(t.max_spread).c_str(), sci(t.max_abs).c_str(),
                  t.max_abs > 0 ? sci(t.max_spread / t.max_abs).c_str() : "-");
    o << line;
  }
  return o.str();
}

nlohmann::json stability_json(const StabilityReport& r) {
  nlohmann::json t = nlohmann::json::array();
  for (const auto& x : r.tensors)
    t.push_back({{"name", x.name}, {"elements", x.elements}, {"differing", x.differing},
                 {"max_spread", x.max_spread}, {"max_abs", x.max_abs},
                 {"relative_spread", x.max_abs > 0 ? x.max_spread / x.max_abs : 0.0}});
  return {{"schema", "attn-harness.stability/1"}, {"backend", r.backend}, {"device", r.device},
          {"runs", r.runs}, {"deterministic", r.deterministic()}, {"tensors", t}};
}

}  // namespace attn::kern

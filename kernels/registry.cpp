#include "kernels/registry.hpp"

#include <chrono>
#include <ctime>

#include <torch/version.h>

#include "datasets/errors.hpp"
#include "datasets/utc_time.hpp"
#include "kernels/flash_backend.hpp"
#include "kernels/math_backend.hpp"
#include "kernels/mutants.hpp"
#include "kernels/sdpa_backend.hpp"

#if ATTN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace attn::kern {

const std::vector<std::shared_ptr<const Backend>>& all_backends() {
  static const std::vector<std::shared_ptr<const Backend>> list{
      std::make_shared<SdpaBackend>(),
      std::make_shared<FlashBackend>(),
      // The flash path with FA2 on block 0 (the default takes cuDNN where available).
      std::make_shared<FlashBackend>(
          [] {
            FlashOptions o;
            o.block0 = FlashOptions::Block0::fa2;
            return o;
          }(),
          "flash-fa2"),
      std::make_shared<MathBackend>(at::kDouble),
      std::make_shared<MathBackend>(at::kFloat),
  };
  return list;
}

const std::vector<std::shared_ptr<const Backend>>& mutant_backends() {
  static const std::vector<std::shared_ptr<const Backend>> list = [] {
    std::vector<std::shared_ptr<const Backend>> l;
    for (const MutantInfo& m : mutant_catalogue()) {
      FlashOptions o;
      o.defect = m.defect;
      l.push_back(std::make_shared<FlashBackend>(o, m.name));
    }
    return l;
  }();
  return list;
}

std::shared_ptr<const Backend> find_backend(const std::string& name) {
  std::string known;
  for (const auto& b : all_backends()) {
    if (b->name() == name) return b;
    known += (known.empty() ? "" : ", ") + b->name();
  }
  for (const auto& b : mutant_backends())
    if (b->name() == name) return b;
  throw data::InputError("unknown backend '" + name + "': this build has " + known +
                         " (and the mutants listed by `attn-harness backends`); `run` also takes "
                         "flex and py:PATH.py:FUNC, your own Python function");
}

bool cuda_available() {
  try {
    return at::hasCUDA() && at::getNumGPUs() > 0;
  } catch (const std::exception&) {
    return false;
  }
}

at::Device parse_device(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  if (name == "cuda") {
    if (!cuda_available())
      throw data::InputError(std::string("device 'cuda' is not available: ") +
                             (at::hasCUDA() ? "no CUDA device is visible to this process"
                                            : "this LibTorch has no CUDA support"));
    return at::Device(at::kCUDA, 0);
  }
  throw data::InputError("unknown device '" + name + "': expected cpu or cuda");
}

namespace {

std::string device_name(const at::Device& device) {
  if (!device.is_cuda()) return "cpu";
#if ATTN_WITH_CUDA
  const auto* props = at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0);
  return props ? std::string(props->name) : "cuda";
#else
  return "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
#endif
}


}  // namespace

std::map<std::string, std::string> run_provenance(const Backend& b, const at::Device& device,
                                                  const data::CaseConfig& config,
                                                  const std::string& commit,
                                                  const std::string& variant) {
  std::map<std::string, std::string> p;
  p["backend"] = b.name();
  p["invalid_rows"] = to_string(b.invalid_rows());
  if (!variant.empty()) p["variant"] = variant;
  p["device"] = device_name(device);
  p["torch_version"] = TORCH_VERSION;
  p["dtype"] = data::to_string(config.dtype);
  p["commit"] = commit;
  p["time"] = data::utc_timestamp();
  return p;
}

}  // namespace attn::kern

// The backends this build offers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.hpp"

namespace attn::kern {

/// All backends compiled into this build, in a stable order (sdpa, flash, flash-fa2, math-fp64,
/// math-fp32).
/// Never a mutant: `run --backend all` and benchmarks see correct backends only.
const std::vector<std::shared_ptr<const Backend>>& all_backends();

/// The defective variants of flash for the gate self-test (kernels/mutants.hpp), in the
/// catalogue's order, named "mutant-...".
const std::vector<std::shared_ptr<const Backend>>& mutant_backends();

/// A backend or a mutant by name. Throws data::InputError listing the known names when
/// `name` is unknown.
std::shared_ptr<const Backend> find_backend(const std::string& name);

/// True when this build has CUDA and a device is present.
bool cuda_available();

/// Parses "cpu" or "cuda"; InputError naming the accepted values (and why cuda is not
/// available, when it is not).
at::Device parse_device(const std::string& name);

/// Provenance of a run: backend, variant (TorchOutputs::variant, omitted when empty), device
/// name, torch version, dtype, commit, time (UTC, ISO 8601).
std::map<std::string, std::string> run_provenance(const Backend& b, const at::Device& device,
                                                  const data::CaseConfig& config,
                                                  const std::string& commit,
                                                  const std::string& variant = "");

}  // namespace attn::kern

#include "harness/selftest/case_runner.hpp"

#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/reference_adapter.hpp"
#include "kernels/registry.hpp"
#include "references/structured_reference.hpp"

namespace attn::cli::selftest {

PreparedCase prepare_case(data::CaseInputs inputs, const at::Device& device) {
  PreparedCase c;
  c.inputs = std::move(inputs);
  c.reference.name = "reference";
  c.reference.provenance["backend"] = "structured-fp64";
  c.reference.provenance["invalid_rows"] = "zeros";
  c.reference.outputs = reference_outputs(
      ref::structured_reference(reference_problem(c.inputs)->view), c.inputs.config);
  c.on_device = kern::to_device(c.inputs, device);
  return c;
}

data::ProducerOutputs run_backend(const kern::Backend& backend, const PreparedCase& c,
                                  const at::Device& device) {
  const kern::Support s = backend.supports(c.inputs.config, device);
  if (!s.ok) throw data::InputError(backend.name() + ": " + s.why);
  const kern::TorchOutputs o = backend.run(c.on_device);
  data::ProducerOutputs p;
  p.name = backend.name();
  p.outputs = kern::to_host(o);
  p.provenance = kern::run_provenance(backend, device, c.inputs.config, kCommit, o.variant);
  return p;
}

}  // namespace attn::cli::selftest

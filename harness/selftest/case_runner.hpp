// One in-memory case on a device: its fp64 reference (structured form) and the outputs of any
// backend as a producer that report::compare_case judges like a recorded one.
#pragma once

#include <string>

#include "datasets/case.hpp"
#include "kernels/backend.hpp"

namespace attn::cli::selftest {

struct PreparedCase {
  data::CaseInputs inputs;
  data::ProducerOutputs reference;  ///< name "reference", fp64
  kern::TorchCase on_device;
};

/// Computes the reference and moves the inputs to `device`.
PreparedCase prepare_case(data::CaseInputs inputs, const at::Device& device);

/// Runs `backend` (forward and backward) and returns its outputs with provenance (including
/// the invalid_rows declaration). Throws InputError when the backend does not support the
/// case on this device.
data::ProducerOutputs run_backend(const kern::Backend& backend, const PreparedCase& c,
                                  const at::Device& device);

}  // namespace attn::cli::selftest

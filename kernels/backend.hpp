// The backend interface: a backend takes a case on a device and returns out, lse and every
// gradient in the case's layout, and declares what it does on rows outside the contract
// (docs/design.md, "Padded rows").
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "datasets/case.hpp"

namespace attn::kern {

/// What a backend promises on invalid rows (i >= valid_len[b] - t).
enum class InvalidRows {
  zeros,        ///< out = 0, lse = 0, no gradient from those rows
  unspecified,  ///< finite values of its own (e.g. sdpa); only valid rows are judged
};
std::string to_string(InvalidRows r);

/// A case's inputs as tensors on one device, in the case dtype (valid_len as int64).
struct TorchCase {
  data::CaseConfig config;
  at::Tensor q, grad_out;             ///< [B, H, L, D]
  std::vector<at::Tensor> k, v;       ///< t + 1 blocks of [B, Hkv, L, D]
  at::Tensor valid_len;               ///< [B] int64, on the device
  std::vector<int64_t> valid_len_host;
  double scale = 0.0;                 ///< resolved (never 0)
};

/// Moves a case to `device` (converting fp64 values exactly into the case dtype).
TorchCase to_device(const data::CaseInputs& in, const at::Device& device);

/// What a backend returns, on the case's device: out, dq in the input dtype, lse [B, H, L]
/// (fp32 unless the backend computes in fp64), dk[m], dv[m] for m = 0..t.
struct TorchOutputs {
  at::Tensor out, lse, dq;
  std::vector<at::Tensor> dk, dv;
  /// Which kernels ran, for provenance (e.g. "block0=cuda-flash-varlen(lse [H, total_q]);
  /// merge=fused-cuda"); empty when the backend has a single implementation.
  std::string variant;
};

/// Host copy in the case layout, each tensor keeping its own dtype (values exact in fp64).
data::AttentionOutputs to_host(const TorchOutputs& o);

struct Support {
  bool ok = true;
  std::string why;  ///< "unsupported: ..." reason when !ok
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual InvalidRows invalid_rows() const = 0;
  /// Whether this build and device can run the case's shape and dtype; never throws.
  virtual Support supports(const data::CaseConfig& config, const at::Device& device) const = 0;
  /// Forward and backward (grad_out as the incoming gradient). Precondition: supports().ok.
  virtual TorchOutputs run(const TorchCase& c) const = 0;
};

}  // namespace attn::kern

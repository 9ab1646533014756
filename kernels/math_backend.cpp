#include "kernels/math_backend.hpp"

#include <limits>
#include <sstream>

#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include "kernels/detail/ttt_rows.hpp"
#include "kernels/registry.hpp"

namespace attn::kern {
namespace {

/// Scores, probabilities and their temporaries must fit: the dense form is for test sizes.
constexpr double kMaxScoreBytes = 8.0 * (1ull << 30);

}  // namespace

MathBackend::MathBackend(at::ScalarType compute) : compute_(compute) {
  TORCH_CHECK(compute == at::kDouble || compute == at::kFloat,
              "MathBackend: compute type must be fp64 or fp32");
}

std::string MathBackend::name() const { return compute_ == at::kDouble ? "math-fp64" : "math-fp32"; }

std::string MathBackend::description() const {
  return std::string("dense explicit-mask math over the concatenated cache in ") +
         (compute_ == at::kDouble ? "fp64" : "fp32") + "; autograd backward";
}

Support MathBackend::supports(const data::CaseConfig& config, const at::Device& device) const {
  if (config.H % config.Hkv != 0)
    return {false, "unsupported: H " + std::to_string(config.H) + " is not a multiple of Hkv " +
                       std::to_string(config.Hkv)};
  const double elem = compute_ == at::kDouble ? 8.0 : 4.0;
  // Scores, masked scores, exponentials, probabilities and their gradients: ~6 copies.
  const double bytes = 6.0 * elem * double(config.B) * double(config.H) * double(config.L) *
                       double(config.t + 1) * double(config.L);
  if (bytes > kMaxScoreBytes) {
    std::ostringstream why;
    why << "unsupported: the dense [B, H, L, (t+1) L] scores need about " << bytes / (1 << 30)
        << " GiB (limit " << kMaxScoreBytes / (1 << 30) << " GiB; the dense math is for test sizes)";
    return {false, why.str()};
  }
  if (device.is_cuda() && !cuda_available())
    return {false, "unsupported: no CUDA device in this process"};
  return {};
}

TorchOutputs MathBackend::run(const TorchCase& c) const {
  c10::AutoGradMode grad_mode(true);
  const auto& cfg = c.config;
  const int64_t B = cfg.B, H = cfg.H, Hkv = cfg.Hkv, L = cfg.L, D = cfg.D, t = cfg.t;
  const int64_t G = H / Hkv, N = (t + 1) * L;
  const at::Device dev = c.q.device();

  std::vector<at::Tensor> leaves{c.q.detach().to(compute_).requires_grad_(true)};
  for (int64_t m = 0; m <= t; ++m) leaves.push_back(c.k[m].detach().to(compute_).requires_grad_(true));
  for (int64_t m = 0; m <= t; ++m) leaves.push_back(c.v[m].detach().to(compute_).requires_grad_(true));
  const at::Tensor& q = leaves[0];
  const at::Tensor K = at::cat(at::TensorList(leaves).slice(1, t + 1), 2);          // [B, Hkv, N, D]
  const at::Tensor V = at::cat(at::TensorList(leaves).slice(2 + t, t + 1), 2);      // [B, Hkv, N, D]

  // Mask over the concatenated cache: entry (i, m L + j) iff row i valid and
  // (m == 0 ? j <= i : j == i).
  const auto lopts = at::TensorOptions().dtype(at::kLong).device(dev);
  const at::Tensor i = at::arange(L, lopts).view({L, 1}), j = at::arange(L, lopts).view({1, L});
  std::vector<at::Tensor> blocks{j <= i};
  for (int64_t m = 1; m <= t; ++m) blocks.push_back(j == i);
  const at::Tensor row_valid = detail::valid_row_mask(detail::valid_rows(c), L, dev).view({B, 1, L, 1});
  const at::Tensor mask = at::cat(blocks, 1).view({1, 1, L, N}) & row_valid;  // [B, 1, L, N]

  // Heads of a group share their kv head: [B, Hkv, G L, D] x [B, Hkv, D, N].
  const at::Tensor s =
      at::matmul(q.reshape({B, Hkv, G * L, D}), K.transpose(-1, -2)).view({B, H, L, N}) * c.scale;
  const at::Tensor masked = s.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  at::Tensor mx = std::get<0>(masked.detach().max(-1, true));
  mx = at::where(at::isfinite(mx), mx, at::zeros_like(mx));
  const at::Tensor e = at::exp(masked - mx);
  const at::Tensor sum = e.sum(-1, true);
  const at::Tensor nonempty = sum > 0;
  const at::Tensor p = e / at::where(nonempty, sum, at::ones_like(sum));
  const at::Tensor out = at::matmul(p.view({B, Hkv, G * L, N}), V).view({B, H, L, D});

  TorchOutputs o;
  {
    c10::NoGradGuard no_grad;
    o.lse = at::where(nonempty, at::log(sum.detach()) + mx, at::zeros_like(mx)).squeeze(-1);
  }
  const auto grads = torch::autograd::grad({out}, leaves, {c.grad_out.to(compute_)});
  o.out = out.detach();
  o.dq = grads[0];
  for (int64_t m = 0; m <= t; ++m) o.dk.push_back(grads[1 + m]);
  for (int64_t m = 0; m <= t; ++m) o.dv.push_back(grads[2 + t + m]);
  return o;
}

}  // namespace attn::kern

// Exact host <-> device conversions of cases and outputs, and the row helpers of
// detail/ttt_rows.hpp.
#include <cmath>
#include <limits>
#include <mutex>
#include <string>

#include "datasets/errors.hpp"
#include "kernels/backend.hpp"
#include "kernels/detail/ttt_rows.hpp"

namespace attn::kern {
namespace {

at::ScalarType scalar_type(data::DType d) {
  switch (d) {
    case data::DType::bf16: return at::kBFloat16;
    case data::DType::f32: return at::kFloat;
    case data::DType::f64: return at::kDouble;
  }
  return at::kDouble;
}

data::DType host_dtype(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return data::DType::bf16;
    case at::kFloat: return data::DType::f32;
    case at::kHalf: return data::DType::f32;  // every fp16 value is an fp32 value
    case at::kDouble: return data::DType::f64;
    default:
      throw std::invalid_argument(std::string("to_host: unexpected tensor dtype ") +
                                  c10::toString(t));
  }
}

void check_shape(const data::Tensor& t, const std::vector<int64_t>& expected, const std::string& what) {
  if (t.shape != expected || !t.has_storage())
    throw data::InputError("case tensor " + what + ": expected shape " +
                           data::shape_string(expected) + ", found " + data::shape_string(t.shape) +
                           (t.has_storage() ? "" : " without values"));
}

// The case's values as a tensor of its own on `device` (one copy; backends may not write into
// the case).
at::Tensor to_tensor(const data::Tensor& t, at::ScalarType dtype, const at::Device& device) {
  const at::Tensor view = at::from_blob(const_cast<void*>(t.raw()), t.shape,
                                        at::TensorOptions().dtype(dtype));
  return device.is_cpu() ? view.clone() : view.to(device);
}

data::Tensor to_host_tensor(const at::Tensor& x) {
  if (!x.defined()) return data::Tensor();
  const data::DType d = host_dtype(x.scalar_type());
  const at::ScalarType stored = d == data::DType::bf16 ? at::kBFloat16 : d == data::DType::f32 ? at::kFloat : at::kDouble;
  at::Tensor h = x.detach().to(at::kCPU, stored).contiguous();
  auto holder = std::make_shared<at::Tensor>(h);
  return data::Tensor::adopt(d, h.sizes().vec(), std::shared_ptr<void>(holder, h.data_ptr()));
}

/// On the CPU wheel of torch 2.11 (seen on a 2-core x86 VM) the first vectorized fp64 at::exp
/// of a process is, in a few percent of processes, off by ~3e-9 relative; later calls are exact
/// to an ulp. That would make fp64 results (math-fp64, the 1e-12 agreement with the reference)
/// depend on luck, so every process runs the CPU kernels once before the first case.
void warm_up_cpu_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (at::ScalarType t : {at::kDouble, at::kFloat})
      for (int i = 0; i < 3; ++i) {
        const at::Tensor x = at::linspace(-4.0, 4.0, 2 * 40 * 64, at::TensorOptions().dtype(t)).view({2, 40, 64});
        const at::Tensor s = at::matmul(x, x.transpose(-1, -2));
        (void)at::exp(s - std::get<0>(s.max(-1, true))).sum().item<double>();
        (void)at::logsumexp(s, -1).sum().item<double>();
      }
  });
}

}  // namespace

std::string to_string(InvalidRows r) {
  switch (r) {
    case InvalidRows::zeros: return "zeros";
    case InvalidRows::unspecified: return "unspecified";
  }
  return "?";
}

TorchCase to_device(const data::CaseInputs& in, const at::Device& device) {
  const data::CaseConfig& c = in.config;
  if (c.B <= 0 || c.H <= 0 || c.Hkv <= 0 || c.L <= 0 || c.D <= 0 || c.t < 0)
    throw data::InputError("case config: sizes must be positive and t >= 0");
  if (c.H % c.Hkv != 0)
    throw data::InputError("case config: H must be a multiple of Hkv: found H " +
                           std::to_string(c.H) + ", Hkv " + std::to_string(c.Hkv));
  if (int64_t(in.k.size()) != c.t + 1 || int64_t(in.v.size()) != c.t + 1)
    throw data::InputError("case: expected t + 1 = " + std::to_string(c.t + 1) +
                           " cache blocks, found " + std::to_string(in.k.size()) + " k and " +
                           std::to_string(in.v.size()) + " v blocks");
  if (int64_t(in.valid_len.size()) != c.B)
    throw data::InputError("case: valid_len needs " + std::to_string(c.B) + " entries, found " +
                           std::to_string(in.valid_len.size()));
  for (int64_t n : in.valid_len)
    if (n < 0 || n > c.L)
      throw data::InputError("case: valid_len values must be in [0, L = " + std::to_string(c.L) +
                             "], found " + std::to_string(n));
  const std::vector<int64_t> qs{c.B, c.H, c.L, c.D}, kvs{c.B, c.Hkv, c.L, c.D};
  check_shape(in.q, qs, "q");
  check_shape(in.grad_out, qs, "grad_out");
  for (size_t m = 0; m < in.k.size(); ++m) {
    check_shape(in.k[m], kvs, "k[" + std::to_string(m) + "]");
    check_shape(in.v[m], kvs, "v[" + std::to_string(m) + "]");
  }

  warm_up_cpu_kernels();
  const at::ScalarType dtype = scalar_type(c.dtype);
  TorchCase tc;
  tc.config = c;
  tc.q = to_tensor(in.q, dtype, device);
  tc.grad_out = to_tensor(in.grad_out, dtype, device);
  for (size_t m = 0; m < in.k.size(); ++m) {
    tc.k.push_back(to_tensor(in.k[m], dtype, device));
    tc.v.push_back(to_tensor(in.v[m], dtype, device));
  }
  tc.valid_len_host = in.valid_len;
  tc.valid_len = at::tensor(in.valid_len, at::TensorOptions().dtype(at::kLong)).to(device);
  tc.scale = c.scale != 0.0 ? c.scale : 1.0 / std::sqrt(double(c.D));
  tc.config.scale = tc.scale;
  return tc;
}

data::AttentionOutputs to_host(const TorchOutputs& o) {
  data::AttentionOutputs h;
  h.out = to_host_tensor(o.out);
  h.lse = to_host_tensor(o.lse);
  h.dq = to_host_tensor(o.dq);
  for (const at::Tensor& x : o.dk) h.dk.push_back(to_host_tensor(x));
  for (const at::Tensor& x : o.dv) h.dv.push_back(to_host_tensor(x));
  return h;
}

namespace detail {

std::vector<int64_t> valid_rows(const std::vector<int64_t>& valid_len, int64_t L, int64_t t) {
  std::vector<int64_t> rows;
  rows.reserve(valid_len.size());
  for (int64_t n : valid_len) rows.push_back(std::max<int64_t>(0, std::min(L, n) - t));
  return rows;
}

at::Tensor valid_row_mask(const std::vector<int64_t>& rows, int64_t L, const at::Device& device) {
  const auto opts = at::TensorOptions().dtype(at::kLong);
  const at::Tensor n = at::tensor(rows, opts).to(device).view({int64_t(rows.size()), 1, 1});
  return at::arange(L, opts.device(device)).view({1, 1, L}) < n;
}

double finfo_min(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return -3.38953138925153547590470800371487866880e+38;  // -(2 - 2^-7) 2^127
    case at::kHalf: return -65504.0;
    case at::kFloat: return double(std::numeric_limits<float>::lowest());
    default: return std::numeric_limits<double>::lowest();
  }
}

}  // namespace detail
}  // namespace attn::kern

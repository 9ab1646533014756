#include "datasets/tensor.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "datasets/errors.hpp"
#include "datasets/limits.hpp"

namespace attn::data {
namespace {

/// 64-byte aligned storage (vector loads, and an f64 tensor's values may be handed to Eigen).
std::shared_ptr<void> allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw InputError("cannot allocate " + byte_size_text(bytes) + " for a tensor");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

template <typename T>
bool dtype_matches(DType d) {
  if constexpr (std::is_same_v<T, uint16_t>) return d == DType::bf16;
  if constexpr (std::is_same_v<T, float>) return d == DType::f32;
  if constexpr (std::is_same_v<T, double>) return d == DType::f64;
  return false;
}

[[noreturn]] void not_representable(DType d, int64_t i, double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  throw InputError("element " + std::to_string(i) + " (" + buf + ") is not a " + to_string(d) +
                   " value (round it with round_to first)");
}

/// bf16 bits of x, which must be a bf16 value (or NaN/inf); false when it is not.
bool exact_bf16_bits(double x, uint16_t* bits) {
  const float f = static_cast<float>(x);
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if (std::isnan(x)) {
    *bits = static_cast<uint16_t>(((u >> 16) & 0x8000u) | 0x7FC0u);
    return true;
  }
  if (static_cast<double>(f) != x || (u & 0xFFFFu) != 0) return false;
  *bits = static_cast<uint16_t>(u >> 16);
  return true;
}

}  // namespace

size_t element_size(DType d) { return d == DType::bf16 ? 2 : d == DType::f32 ? 4 : 8; }

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw InputError(what + ": negative dimension in shape " + shape_string(shape));
    if (d != 0 && n > kMaxTensorElements / d)
      throw InputError(what + ": shape " + shape_string(shape) + " has more than 2^36 elements (" +
                       "the limit of one tensor)");
    n *= d;
  }
  return n;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor Tensor::empty(DType d, std::vector<int64_t> shape) {
  const int64_t n = checked_numel(shape, "tensor");
  Tensor t;
  t.dtype = d;
  t.shape = std::move(shape);
  t.storage_ = allocate(size_t(n) * element_size(d));
  return t;
}

Tensor Tensor::zeros(DType d, std::vector<int64_t> shape) {
  Tensor t = empty(d, std::move(shape));
  std::memset(t.storage_.get(), 0, t.nbytes());
  return t;
}

Tensor Tensor::from_f64(DType d, std::vector<int64_t> shape, std::vector<double> values) {
  const int64_t n = checked_numel(shape, "tensor");
  if (int64_t(values.size()) != n)
    throw InputError("tensor of shape " + shape_string(shape) + " needs " + std::to_string(n) +
                     " values, found " + std::to_string(values.size()));
  if (d == DType::f64) {
    Tensor t;
    t.dtype = d;
    t.shape = std::move(shape);
    auto* owned = new std::vector<double>(std::move(values));
    t.storage_ = std::shared_ptr<void>(owned->data(), [owned](void*) { delete owned; });
    return t;
  }
  Tensor t = empty(d, std::move(shape));
  for (int64_t i = 0; i < n; ++i) t.set(i, values[size_t(i)]);
  return t;
}

Tensor Tensor::adopt(DType d, std::vector<int64_t> shape, std::shared_ptr<void> storage) {
  checked_numel(shape, "tensor");
  Tensor t;
  t.dtype = d;
  t.shape = std::move(shape);
  t.storage_ = std::move(storage);
  return t;
}

template <typename T>
const T* Tensor::data() const {
  if (!dtype_matches<T>(dtype))
    throw std::logic_error("Tensor::data: element type does not match dtype " + to_string(dtype));
  return static_cast<const T*>(storage_.get());
}

template <typename T>
T* Tensor::mutable_data() {
  if (!dtype_matches<T>(dtype))
    throw std::logic_error("Tensor::mutable_data: element type does not match dtype " +
                           to_string(dtype));
  return static_cast<T*>(storage_.get());
}

template const uint16_t* Tensor::data<uint16_t>() const;
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template uint16_t* Tensor::mutable_data<uint16_t>();
template float* Tensor::mutable_data<float>();
template double* Tensor::mutable_data<double>();

double Tensor::at(int64_t i) const {
  switch (dtype) {
    case DType::bf16: return bf16_bits_to_float(static_cast<const uint16_t*>(storage_.get())[i]);
    case DType::f32: return static_cast<const float*>(storage_.get())[i];
    case DType::f64: return static_cast<const double*>(storage_.get())[i];
  }
  return 0.0;
}

void Tensor::set(int64_t i, double x) {
  switch (dtype) {
    case DType::bf16: {
      uint16_t bits;
      if (!exact_bf16_bits(x, &bits)) not_representable(dtype, i, x);
      static_cast<uint16_t*>(storage_.get())[i] = bits;
      return;
    }
    case DType::f32: {
      const float f = static_cast<float>(x);
      if (static_cast<double>(f) != x && !std::isnan(x)) not_representable(dtype, i, x);
      static_cast<float*>(storage_.get())[i] = f;
      return;
    }
    case DType::f64:
      static_cast<double*>(storage_.get())[i] = x;
      return;
  }
}

void Tensor::read_f64(int64_t first, int64_t count, double* out) const {
  switch (dtype) {
    case DType::bf16: {
      const uint16_t* p = static_cast<const uint16_t*>(storage_.get()) + first;
      for (int64_t i = 0; i < count; ++i) out[i] = bf16_bits_to_float(p[i]);
      return;
    }
    case DType::f32: {
      const float* p = static_cast<const float*>(storage_.get()) + first;
      for (int64_t i = 0; i < count; ++i) out[i] = p[i];
      return;
    }
    case DType::f64:
      std::memcpy(out, static_cast<const double*>(storage_.get()) + first,
                  size_t(count) * sizeof(double));
      return;
  }
}

std::vector<double> Tensor::to_f64() const {
  std::vector<double> v(static_cast<size_t>(numel()));
  if (!v.empty()) read_f64(0, numel(), v.data());
  return v;
}

Tensor Tensor::clone() const {
  Tensor t = empty(dtype, shape);
  if (nbytes()) std::memcpy(t.storage_.get(), storage_.get(), nbytes());
  return t;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace attn::data

// A host tensor: shape, element type, and its values stored in that type (bf16 as its 16-bit
// pattern, f32, f64), row-major and contiguous. Holding values in their own type keeps a
// case's inputs and outputs at their file size in memory (a bf16 case needs a quarter of what
// fp64 copies would) and lets the hash, the writer and LibTorch use the bytes as they are.
//
// Copies share the values (like a LibTorch tensor); clone() makes an independent copy. Code
// that writes through mutable_data() owns the tensor it writes (it made it, or cloned it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/dtype.hpp"

namespace attn::data {

/// Bytes per element: 2 (bf16), 4 (f32), 8 (f64).
size_t element_size(DType d);

/// The product of `shape`'s dimensions. Throws InputError, naming `what`, when a dimension is
/// negative or the product (or product * element_size) overflows int64 or exceeds
/// kMaxTensorElements (limits.hpp): every size is checked before anything is multiplied or
/// allocated with it.
int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& what);

class Tensor {
 public:
  DType dtype = DType::f64;
  std::vector<int64_t> shape;

  Tensor() = default;
  /// Storage for `shape` in `d`, values unspecified (checked_numel first).
  static Tensor empty(DType d, std::vector<int64_t> shape);
  static Tensor zeros(DType d, std::vector<int64_t> shape);
  /// From fp64 values: an f64 tensor adopts the vector (no copy); bf16 and f32 store each value,
  /// which must be representable in `d` (NaN and +-inf are kept; InputError names the first
  /// value that is not). values.size() must equal the shape's element count.
  static Tensor from_f64(DType d, std::vector<int64_t> shape, std::vector<double> values);
  /// Adopts `storage`, which must hold numel * element_size(d) bytes (the caller's promise).
  static Tensor adopt(DType d, std::vector<int64_t> shape, std::shared_ptr<void> storage);

  int64_t numel() const;
  size_t nbytes() const { return size_t(numel()) * element_size(dtype); }
  bool has_storage() const { return storage_ != nullptr; }

  const void* raw() const { return storage_.get(); }
  void* mutable_raw() { return storage_.get(); }
  /// Typed views; T must match the dtype: uint16_t (bf16 bits), float (f32), double (f64).
  /// std::logic_error otherwise.
  template <typename T>
  const T* data() const;
  template <typename T>
  T* mutable_data();

  /// Element i (row-major) as fp64 (exact).
  double at(int64_t i) const;
  /// Stores x at i; x must be representable in the dtype (InputError otherwise; NaN is kept).
  void set(int64_t i, double x);
  /// Elements [first, first + count) as fp64 into out.
  void read_f64(int64_t first, int64_t count, double* out) const;
  /// Every element as fp64 (a copy, also for f64 tensors).
  std::vector<double> to_f64() const;

  Tensor clone() const;

 private:
  std::shared_ptr<void> storage_;
};

/// "[2, 32, 512, 128]"
std::string shape_string(const std::vector<int64_t>& shape);

/// bf16 bits -> float (exact).
inline float bf16_bits_to_float(uint16_t bits) {
  const uint32_t u = uint32_t(bits) << 16;
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace attn::data

#include "datasets/tensor.hpp"

#include <utility>

#include "datasets/errors.hpp"

namespace attn::data {

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  for (int64_t d : shape)
    if (d < 0)
      throw InputError("Tensor::zeros: negative dimension in shape " + shape_string(shape));
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.values.assign(static_cast<size_t>(t.numel()), 0.0);
  return t;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace attn::data

// A host tensor: shape, element type, fp64 values (row-major). See dtype.hpp for why fp64.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dtype.hpp"

namespace attn::data {

struct Tensor {
  DType dtype = DType::f64;
  std::vector<int64_t> shape;
  std::vector<double> values;  ///< row-major, size == numel()

  int64_t numel() const;
  static Tensor zeros(DType dtype, std::vector<int64_t> shape);
};

/// "[2, 32, 512, 128]"
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace attn::data

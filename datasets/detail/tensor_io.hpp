// Private: whole-dataset reads and writes of tensors and int64 vectors (one H5Dread or
// H5Dwrite per dataset, conversion to and from fp64 in a tight loop).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/detail/hdf5_handles.hpp"
#include "datasets/tensor.hpp"

namespace attn::data::detail {

/// Writes `t` as dataset `name` of `group` in t.dtype: bf16 as its exact bits in the bf16 file
/// type, f32/f64 as IEEE little-endian. Datasets over 4 KiB are chunked (whole trailing
/// slices, at most 1 MiB a chunk) and gzip-compressed (level 4, byte shuffle first) when the
/// library has the filters. Fails, naming `w`, when values.size() != numel() or a value is not
/// representable in t.dtype (NaN and +-inf are stored as they are).
void write_tensor(hid_t group, const std::string& name, const Tensor& t, const Where& w);

/// Reads dataset `name` of `group` whole. Its element type must be bf16, IEEE float32 or IEEE
/// float64 (either byte order); the tensor's dtype is that type. Fails, naming `w`, when the
/// dataset is missing, its type is unsupported or not `required` (when given; `why` says why,
/// e.g. "the case dtype"), or its shape is not `expected` (`legend` names the dimensions, e.g.
/// "B, H, L, D"). Type and shape are checked before any data is read. When `all_finite` is
/// given it is set to whether every value is finite (found during the conversion, so callers
/// need no second pass over the values).
Tensor read_tensor(hid_t group, const std::string& name, const std::vector<int64_t>& expected,
                   const std::string& legend, const Where& w,
                   std::optional<DType> required = std::nullopt, const std::string& why = "",
                   bool* all_finite = nullptr);

/// An int64 vector dataset (stored as little-endian int64; read from any integer type).
void write_int64_vector(hid_t group, const std::string& name, const std::vector<int64_t>& values,
                        const Where& w);
std::vector<int64_t> read_int64_vector(hid_t group, const std::string& name, int64_t expected_size,
                                       const std::string& legend, const Where& w);

}  // namespace attn::data::detail

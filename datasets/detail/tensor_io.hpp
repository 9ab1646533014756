// Private: tensor datasets. Headers are checked before any data is read (type, shape, whether
// the data was ever written, chunk sizes), data is read straight into the caller's buffer in
// the stored type (no conversion), and tensors are written from their own storage.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/detail/hdf5_handles.hpp"
#include "datasets/tensor.hpp"

namespace attn::data::detail {

/// What a dataset's header says, without reading its data.
struct DatasetHeader {
  std::optional<DType> dtype;  ///< nullopt: not bf16, float32 or float64
  std::string type_text;       ///< describe_type() of its element type
  std::vector<int64_t> shape;  ///< [] for a scalar
  bool null_space = false;     ///< an empty (null) dataspace
};

/// Opens dataset `name` of `group` and reads its header, failing (InputError naming `w`) when
/// it is missing ("missing dataset (expected <expected>)"), not a dataset, or its header is
/// damaged: data never written (unallocated storage or chunks), a chunk larger than the
/// dataset, storage smaller than the shape needs. A header with an unsupported type or another
/// shape is returned for the caller to judge.
DatasetHeader read_dataset_header(hid_t group, const std::string& name,
                                  const std::string& expected, const Where& w);

/// Checks a header against what the caller needs: the type (when `required`; `why` says why,
/// e.g. "the case dtype") and the shape (`legend` names the dimensions, e.g. "B, H, L, D").
/// Returns the dtype.
DType check_dataset_header(const DatasetHeader& h, const std::vector<int64_t>& expected,
                           const std::string& legend, const Where& w,
                           std::optional<DType> required = std::nullopt,
                           const std::string& why = "");

/// Reads dataset `name` (whose header the caller checked: type `dtype`, shape `shape`) into
/// `dest` in its stored type. With `start`/`count` (one entry per dimension) only that box is
/// read, row-major into dest.
void read_dataset(hid_t group, const std::string& name, DType dtype,
                  const std::vector<int64_t>& shape, void* dest, const Where& w,
                  const std::vector<int64_t>& start = {}, const std::vector<int64_t>& count = {});

/// Writes `t` as dataset `name` in t.dtype (bf16 as its bits in the bf16 file type, f32/f64 as
/// IEEE little-endian). Contiguous and uncompressed unless `compress`: then chunked (whole
/// trailing slices, at most 1 MiB a chunk) and gzip level 4 after byte shuffle, when the library
/// has those filters (for bundles, which travel).
void write_tensor(hid_t group, const std::string& name, const Tensor& t, const Where& w,
                  bool compress = false);

/// An int64 vector dataset (stored as little-endian int64; read from any integer type).
void write_int64_vector(hid_t group, const std::string& name, const std::vector<int64_t>& values,
                        const Where& w);
std::vector<int64_t> read_int64_vector(hid_t group, const std::string& name, int64_t expected_size,
                                       const std::string& legend, const Where& w);

}  // namespace attn::data::detail

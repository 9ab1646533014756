#include "datasets/detail/tensor_io.hpp"

#include <cstdio>
#include <cstring>

#include "datasets/errors.hpp"

namespace attn::data::detail {
namespace {

constexpr size_t kMaxChunkBytes = 1u << 20;  // 1 MiB
constexpr size_t kCompressAbove = 4096;      // bytes; smaller datasets stay contiguous

bool filter_can_encode(H5Z_filter_t f) {
  if (H5Zfilter_avail(f) <= 0) return false;
  unsigned config = 0;
  return H5Zget_filter_info(f, &config) >= 0 && (config & H5Z_FILTER_CONFIG_ENCODE_ENABLED);
}

/// Chunk shape: whole trailing dimensions, leading ones cut to 1 while the chunk exceeds
/// kMaxChunkBytes; the first dimension that must be cut partially is cut to fit.
std::vector<hsize_t> chunk_shape(const std::vector<hsize_t>& dims, size_t elem) {
  std::vector<hsize_t> chunk = dims;
  auto bytes = [&] {
    size_t b = elem;
    for (hsize_t c : chunk) b *= size_t(c);
    return b;
  };
  for (size_t i = 0; i < chunk.size() && bytes() > kMaxChunkBytes; ++i) {
    const size_t rest = bytes() / size_t(chunk[i]);
    if (rest >= kMaxChunkBytes) {
      chunk[i] = 1;
    } else {
      chunk[i] = hsize_t(kMaxChunkBytes / rest);
      break;
    }
  }
  return chunk;
}

const char* h5_name(DType d) {
  return d == DType::bf16 ? "bf16" : d == DType::f32 ? "float32" : "float64";
}

std::string filter_name(H5Z_filter_t id, const char* name) {
  if (name && *name) return std::string(name) + " (filter " + std::to_string(id) + ")";
  switch (id) {
    case 32000: return "LZF (filter 32000, h5py's own)";
    case 32001: return "Blosc (filter 32001)";
    case 32004: return "LZ4 (filter 32004)";
    case 32015: return "Zstandard (filter 32015)";
    default: return "filter " + std::to_string(id);
  }
}

/// Damage and unreadable storage, found from the header alone.
void check_storage(hid_t d, const std::vector<int64_t>& shape, size_t elem, const Where& w) {
  H5Id dcpl(H5Dget_create_plist(d));
  if (!dcpl) fail_hdf5(w, "cannot read its creation properties (damaged header?)");
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout < 0) fail_hdf5(w, "cannot read its storage layout (damaged header?)");
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  if (numel == 0) return;

  const int nfilters = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, config = 0;
    size_t nvalues = 0;
    char name[128] = {0};
    const H5Z_filter_t id =
        H5Pget_filter2(dcpl.get(), unsigned(i), &flags, &nvalues, nullptr, sizeof name, name, &config);
    if (id < 0) fail_hdf5(w, "cannot read its filter pipeline (damaged header?)");
    if (H5Zfilter_avail(id) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      fail(w, "is compressed with " + filter_name(id, name) +
                  ", which this HDF5 library cannot decode; store it with gzip or uncompressed "
                  "(h5py: compression=\"gzip\" or none)");
    }
  }

  if (layout == H5D_CHUNKED) {
    const int rank = int(shape.size());
    std::vector<hsize_t> chunk(size_t(std::max(rank, 1)), 0);
    const int crank = H5Pget_chunk(dcpl.get(), rank, chunk.data());
    if (crank != rank) fail(w, "damaged: its chunk rank " + std::to_string(crank) +
                                   " differs from its rank " + std::to_string(rank));
    for (int i = 0; i < rank; ++i)
      if (chunk[size_t(i)] == 0 || chunk[size_t(i)] > hsize_t(shape[size_t(i)]))
        fail(w, "damaged: its chunk shape " +
                    shape_string(std::vector<int64_t>(chunk.begin(), chunk.begin() + rank)) +
                    " does not fit its shape " + shape_string(shape));
  }

  if (layout == H5D_CHUNKED) {
    // Every chunk must be stored (H5Dget_space_status calls compressed chunks partial).
    const int rank = int(shape.size());
    std::vector<hsize_t> chunk(size_t(rank), 0);
    H5Pget_chunk(dcpl.get(), rank, chunk.data());
    uint64_t expected = 1;
    for (int i = 0; i < rank; ++i)
      expected *= (uint64_t(shape[size_t(i)]) + chunk[size_t(i)] - 1) / chunk[size_t(i)];
    hsize_t stored = 0;
    H5Id space(H5Dget_space(d));
    if (!space || H5Dget_num_chunks(d, space.get(), &stored) < 0)
      fail_hdf5(w, "cannot count its chunks");
    if (stored == 0)
      fail(w, "its data was never written (the dataset was created without values)");
    if (stored < expected)
      fail(w, "part of its data was never written (" + std::to_string(stored) + " of " +
                  std::to_string(expected) + " chunks are stored)");
  } else {
    H5D_space_status_t status{};
    if (H5Dget_space_status(d, &status) < 0) fail_hdf5(w, "cannot read its storage status");
    if (status == H5D_SPACE_STATUS_NOT_ALLOCATED)
      fail(w, "its data was never written (the dataset was created without values)");
  }

  if (layout == H5D_CONTIGUOUS) {
    const uint64_t need = uint64_t(numel) * elem;
    const hsize_t have = H5Dget_storage_size(d);
    if (have < need)
      fail(w, "damaged: it stores " + std::to_string(have) + " bytes, its shape needs " +
                  std::to_string(need));
    const haddr_t offset = H5Dget_offset(d);
    H5Id file(H5Iget_file_id(d));
    hsize_t file_size = 0;
    if (offset != HADDR_UNDEF && file && H5Fget_filesize(file.get(), &file_size) >= 0 &&
        (offset > file_size || need > file_size - offset))
      fail(w, "damaged or truncated: its data would end at byte " + std::to_string(offset + need) +
                  " of a " + std::to_string(file_size) + "-byte file");
  }
}

H5Id create_dataset(hid_t group, const std::string& name, hid_t file_type,
                    const std::vector<int64_t>& shape, size_t elem, bool compress, const Where& w) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                          : H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  checked(space.get(), w, "cannot create its dataspace");
  H5Id dcpl(checked(H5Pcreate(H5P_DATASET_CREATE), w, "cannot create a property list"));
  // The data is written whole right after: no fill values first.
  checked(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), w, "cannot set its fill time");
  size_t bytes = elem;
  for (hsize_t d : dims) bytes *= size_t(d);
  if (compress && !dims.empty() && bytes > kCompressAbove && filter_can_encode(H5Z_FILTER_DEFLATE)) {
    const std::vector<hsize_t> chunk = chunk_shape(dims, elem);
    checked(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), w, "cannot set its chunking");
    if (filter_can_encode(H5Z_FILTER_SHUFFLE))
      checked(H5Pset_shuffle(dcpl.get()), w, "cannot set shuffle");
    checked(H5Pset_deflate(dcpl.get(), 4), w, "cannot set gzip compression");
  }
  return H5Id(checked(
      H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      w, "cannot create the dataset"));
}

/// Opens dataset `name`, failing with "missing dataset (expected ...)" or "not a dataset".
H5Id open_dataset(hid_t group, const std::string& name, const std::string& expected,
                  const Where& w) {
  if (!path_exists(group, name)) fail(w, "missing dataset (expected " + expected + ")");
  if (object_kind(group, name) != H5I_DATASET)
    fail(w, "expected a dataset (" + expected + "), found a group or other object");
  return H5Id(checked(H5Dopen2(group, name.c_str(), H5P_DEFAULT), w,
                      "cannot open the dataset (damaged header?)"));
}

std::vector<int64_t> dataset_shape(hid_t dataset, const Where& w, bool* is_null) {
  H5Id space(checked(H5Dget_space(dataset), w, "cannot read its dataspace"));
  *is_null = H5Sget_simple_extent_type(space.get()) == H5S_NULL;
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail_hdf5(w, "cannot read its dataspace");
  if (rank > 8) fail(w, "damaged: rank " + std::to_string(rank));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0 && H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr) < 0)
    fail_hdf5(w, "cannot read its dimensions");
  std::vector<int64_t> shape;
  for (hsize_t d : dims) {
    if (d > hsize_t(INT64_MAX)) fail(w, "damaged: dimension " + std::to_string(d));
    shape.push_back(int64_t(d));
  }
  return shape;
}

}  // namespace

DatasetHeader read_dataset_header(hid_t group, const std::string& name,
                                  const std::string& expected, const Where& w) {
  H5Id d = open_dataset(group, name, expected, w);
  H5Id file_type(checked(H5Dget_type(d.get()), w, "cannot read its element type"));
  DatasetHeader h;
  h.dtype = float_dtype_of(file_type.get());
  h.type_text = describe_type(file_type.get());
  h.shape = dataset_shape(d.get(), w, &h.null_space);
  if (h.dtype && !h.null_space) {
    checked_numel(h.shape, w.text());  // before any size is multiplied below
    check_storage(d.get(), h.shape, element_size(*h.dtype), w);
  }
  return h;
}

DType check_dataset_header(const DatasetHeader& h, const std::vector<int64_t>& expected,
                           const std::string& legend, const Where& w,
                           std::optional<DType> required, const std::string& why) {
  if (!h.dtype)
    throw InputError("unsupported element type for " + w.text() +
                     ": expected bf16, float32 or float64, found " + h.type_text);
  if (required && *h.dtype != *required)
    fail(w, std::string("expected element type ") + h5_name(*required) +
                (why.empty() ? "" : " (" + why + ")") + ", found " + h.type_text);
  if (h.null_space)
    fail(w, "expected shape " + shape_string(expected) + " (" + legend +
                "), found an empty (null) dataspace");
  if (h.shape != expected)
    fail(w, "expected shape " + shape_string(expected) + " (" + legend + "), found " +
                shape_string(h.shape));
  return *h.dtype;
}

void read_dataset(hid_t group, const std::string& name, DType dtype,
                  const std::vector<int64_t>& shape, void* dest, const Where& w,
                  const std::vector<int64_t>& start, const std::vector<int64_t>& count) {
  H5Id d = open_dataset(group, name, "shape " + shape_string(shape), w);
  bool is_null = false;
  if (dataset_shape(d.get(), w, &is_null) != shape || is_null)
    fail(w, "changed while it was being read (expected shape " + shape_string(shape) + ")");
  H5Id file_type(checked(H5Dget_type(d.get()), w, "cannot read its element type"));
  if (float_dtype_of(file_type.get()) != dtype)
    fail(w, "changed while it was being read (expected element type " + to_string(dtype) + ")");
  H5Id mem_type = memory_type_for(dtype);
  const std::string what = std::string("cannot read the ") + h5_name(dtype) + " dataset";
  if (start.empty()) {
    checked(H5Dread(d.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, dest), w, what);
    return;
  }
  if (start.size() != shape.size() || count.size() != shape.size())
    fail(w, "a box of rank " + std::to_string(start.size()) + " for rank " + std::to_string(shape.size()));
  std::vector<hsize_t> s(start.begin(), start.end()), c(count.begin(), count.end());
  for (size_t i = 0; i < shape.size(); ++i)
    if (start[i] < 0 || count[i] < 0 || start[i] + count[i] > shape[i])
      fail(w, "a box outside its shape " + shape_string(shape));
  H5Id file_space(checked(H5Dget_space(d.get()), w, "cannot read its dataspace"));
  checked(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, s.data(), nullptr, c.data(), nullptr),
          w, "cannot select rows");
  H5Id mem_space(checked(H5Screate_simple(int(c.size()), c.data(), nullptr), w,
                         "cannot create a memory dataspace"));
  checked(H5Dread(d.get(), mem_type.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, dest), w,
          what);
}

void write_tensor(hid_t group, const std::string& name, const Tensor& t, const Where& w,
                  bool compress) {
  if (!t.has_storage()) fail(w, "has no values to write");
  H5Id file_type = file_type_for(t.dtype), mem_type = memory_type_for(t.dtype);
  H5Id d = create_dataset(group, name, file_type.get(), t.shape, element_size(t.dtype), compress, w);
  if (t.numel() == 0) return;
  checked(H5Dwrite(d.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw()), w,
          "cannot write the dataset");
}

void write_int64_vector(hid_t group, const std::string& name, const std::vector<int64_t>& values,
                        const Where& w) {
  H5Id d = create_dataset(group, name, H5T_STD_I64LE, {int64_t(values.size())}, sizeof(int64_t),
                          false, w);
  if (!values.empty())
    checked(H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), w,
            "cannot write the dataset");
}

std::vector<int64_t> read_int64_vector(hid_t group, const std::string& name, int64_t expected_size,
                                       const std::string& legend, const Where& w) {
  const std::vector<int64_t> expected{expected_size};
  H5Id d = open_dataset(group, name,
                        "shape " + shape_string(expected) + " (" + legend + ") of int64", w);
  H5Id file_type(checked(H5Dget_type(d.get()), w, "cannot read its element type"));
  if (H5Tget_class(file_type.get()) != H5T_INTEGER)
    throw InputError("unsupported element type for " + w.text() +
                     ": expected an integer type (int64), found " + describe_type(file_type.get()));
  bool is_null = false;
  const std::vector<int64_t> found = dataset_shape(d.get(), w, &is_null);
  if (is_null || found != expected)
    fail(w, "expected shape " + shape_string(expected) + " (" + legend + "), found " +
                (is_null ? std::string("an empty (null) dataspace") : shape_string(found)));
  check_storage(d.get(), found, H5Tget_size(file_type.get()), w);
  std::vector<int64_t> values(static_cast<size_t>(expected_size));
  if (!values.empty())
    checked(H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), w,
            "cannot read the dataset");
  return values;
}

}  // namespace attn::data::detail

#include "datasets/detail/tensor_io.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "datasets/errors.hpp"

namespace attn::data::detail {
namespace {

constexpr size_t kCompressAbove = 4096;      // bytes; smaller datasets stay contiguous
constexpr size_t kMaxChunkBytes = 1u << 20;  // 1 MiB

size_t element_size(DType d) { return d == DType::bf16 ? 2 : d == DType::f32 ? 4 : 8; }

const char* h5_name(DType d) {
  return d == DType::bf16 ? "bf16" : d == DType::f32 ? "float32" : "float64";
}

bool filter_can_encode(H5Z_filter_t f) {
  if (H5Zfilter_avail(f) <= 0) return false;
  unsigned config = 0;
  return H5Zget_filter_info(f, &config) >= 0 && (config & H5Z_FILTER_CONFIG_ENCODE_ENABLED);
}

/// Chunk shape: whole trailing dimensions, leading ones cut to 1 while the chunk exceeds
/// kMaxChunkBytes; the first dimension that must be cut partially is cut to fit. For
/// [B, H, L, D] this is one [L, D] slice (or a block of its rows when L*D is over 1 MiB).
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

std::string value_text(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

[[noreturn]] void fail_unrepresentable(const Where& w, DType d, size_t i, double x) {
  fail(w, "element " + std::to_string(i) + " (" + value_text(x) + ") is not a " + to_string(d) +
              " value, but the tensor's dtype says " + to_string(d) +
              " (round it with round_to first)");
}

H5Id create_dataset(hid_t group, const std::string& name, hid_t file_type,
                    const std::vector<int64_t>& shape, size_t elem, const Where& w) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Id space(dims.empty() ? H5Screate(H5S_SCALAR)
                          : H5Screate_simple(int(dims.size()), dims.data(), nullptr));
  checked(space.get(), w, "cannot create its dataspace");
  H5Id dcpl(checked(H5Pcreate(H5P_DATASET_CREATE), w, "cannot create a property list"));
  size_t bytes = elem;
  for (hsize_t d : dims) bytes *= size_t(d);
  if (!dims.empty() && bytes > kCompressAbove && filter_can_encode(H5Z_FILTER_DEFLATE)) {
    const std::vector<hsize_t> chunk = chunk_shape(dims, elem);
    checked(H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()), w,
            "cannot set its chunking");
    if (filter_can_encode(H5Z_FILTER_SHUFFLE))
      checked(H5Pset_shuffle(dcpl.get()), w, "cannot set shuffle");
    checked(H5Pset_deflate(dcpl.get(), 4), w, "cannot set gzip compression");
  }
  return H5Id(checked(
      H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      w, "cannot create the dataset"));
}

void write_buffer(hid_t dataset, hid_t mem_type, const void* data, size_t n, const Where& w) {
  if (n == 0) return;
  checked(H5Dwrite(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), w,
          "cannot write the dataset");
}

/// Opens dataset `name`, failing with "missing dataset (expected ...)" or "not a dataset".
H5Id open_dataset(hid_t group, const std::string& name, const std::string& expected,
                  const Where& w) {
  if (!path_exists(group, name)) fail(w, "missing dataset (expected " + expected + ")");
  if (object_kind(group, name) != H5I_DATASET)
    fail(w, "expected a dataset (" + expected + "), found a group or other object");
  return H5Id(checked(H5Dopen2(group, name.c_str(), H5P_DEFAULT), w, "cannot open the dataset"));
}

/// The dataset's shape; a scalar is [] and a null dataspace is reported as such.
std::vector<int64_t> dataset_shape(hid_t dataset, const Where& w, bool* is_null) {
  H5Id space(checked(H5Dget_space(dataset), w, "cannot read its dataspace"));
  *is_null = H5Sget_simple_extent_type(space.get()) == H5S_NULL;
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail_hdf5(w, "cannot read its dataspace");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

void check_shape(hid_t dataset, const std::vector<int64_t>& expected, const std::string& legend,
                 const Where& w) {
  bool is_null = false;
  const std::vector<int64_t> found = dataset_shape(dataset, w, &is_null);
  if (is_null)
    fail(w, "expected shape " + shape_string(expected) + " (" + legend +
                "), found an empty (null) dataspace");
  if (found != expected)
    fail(w, "expected shape " + shape_string(expected) + " (" + legend + "), found " +
                shape_string(found));
}

}  // namespace

void write_tensor(hid_t group, const std::string& name, const Tensor& t, const Where& w) {
  const int64_t numel = t.numel();
  if (numel < 0 || int64_t(t.values.size()) != numel)
    fail(w, "holds " + std::to_string(t.values.size()) + " values, but shape " +
                shape_string(t.shape) + " needs " + std::to_string(numel));
  const size_t n = t.values.size();
  const double* x = t.values.data();
  H5Id file_type = file_type_for(t.dtype), mem_type = memory_type_for(t.dtype);
  H5Id d = create_dataset(group, name, file_type.get(), t.shape, element_size(t.dtype), w);
  switch (t.dtype) {
    case DType::bf16: {
      // A bf16 value is a float whose low 16 bits are zero: convert, check exactness, keep
      // the top half. No rounding here; values must already be bf16.
      std::vector<uint16_t> buf(n);
      for (size_t i = 0; i < n; ++i) {
        const float f = static_cast<float>(x[i]);
        uint32_t u = 0;
        std::memcpy(&u, &f, sizeof u);
        if (static_cast<double>(f) != x[i] || (u & 0xFFFFu) != 0) {
          if (!std::isnan(x[i])) fail_unrepresentable(w, t.dtype, i, x[i]);
          u = (u & 0x80000000u) | 0x7FC00000u;  // a quiet NaN with the value's sign
        }
        buf[i] = static_cast<uint16_t>(u >> 16);
      }
      write_buffer(d.get(), mem_type.get(), buf.data(), n, w);
      break;
    }
    case DType::f32: {
      std::vector<float> buf(n);
      for (size_t i = 0; i < n; ++i) {
        buf[i] = static_cast<float>(x[i]);
        if (static_cast<double>(buf[i]) != x[i] && !std::isnan(x[i]))
          fail_unrepresentable(w, t.dtype, i, x[i]);
      }
      write_buffer(d.get(), mem_type.get(), buf.data(), n, w);
      break;
    }
    case DType::f64:
      write_buffer(d.get(), mem_type.get(), x, n, w);
      break;
  }
}

Tensor read_tensor(hid_t group, const std::string& name, const std::vector<int64_t>& expected,
                   const std::string& legend, const Where& w, std::optional<DType> required,
                   const std::string& why, bool* all_finite) {
  H5Id d = open_dataset(group, name, "shape " + shape_string(expected) + " (" + legend + ")", w);
  H5Id file_type(checked(H5Dget_type(d.get()), w, "cannot read its element type"));
  const std::optional<DType> dtype = float_dtype_of(file_type.get());
  if (!dtype)
    throw InputError("unsupported element type for " + w.text() +
                     ": expected bf16, float32 or float64, found " +
                     describe_type(file_type.get()));
  if (required && *dtype != *required)
    fail(w, std::string("expected element type ") + h5_name(*required) +
                (why.empty() ? "" : " (" + why + ")") + ", found " +
                describe_type(file_type.get()));
  check_shape(d.get(), expected, legend, w);

  Tensor t = Tensor::zeros(*dtype, expected);
  const size_t n = t.values.size();
  if (all_finite) *all_finite = true;
  if (n == 0) return t;
  uint32_t nonfinite = 0;  // OR of "exponent all ones" over the values: branch-free, vectorizes
  H5Id mem_type = memory_type_for(*dtype);
  double* out = t.values.data();
  const std::string what = std::string("cannot read the ") + h5_name(*dtype) + " dataset";
  switch (*dtype) {
    case DType::bf16: {
      std::vector<uint16_t> buf(n);
      checked(H5Dread(d.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), w, what);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t u = uint32_t(buf[i]) << 16;
        nonfinite |= uint32_t((u & 0x7F800000u) == 0x7F800000u);
        float f;
        std::memcpy(&f, &u, sizeof f);
        out[i] = static_cast<double>(f);
      }
      break;
    }
    case DType::f32: {
      std::vector<float> buf(n);
      checked(H5Dread(d.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), w, what);
      for (size_t i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, &buf[i], sizeof u);
        nonfinite |= uint32_t((u & 0x7F800000u) == 0x7F800000u);
        out[i] = static_cast<double>(buf[i]);
      }
      break;
    }
    case DType::f64:
      checked(H5Dread(d.get(), mem_type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out), w, what);
      for (size_t i = 0; i < n; ++i) {
        uint64_t u;
        std::memcpy(&u, &out[i], sizeof u);
        nonfinite |= uint32_t((u & 0x7FF0000000000000ULL) == 0x7FF0000000000000ULL);
      }
      break;
  }
  if (all_finite) *all_finite = nonfinite == 0;
  return t;
}

void write_int64_vector(hid_t group, const std::string& name, const std::vector<int64_t>& values,
                        const Where& w) {
  H5Id d = create_dataset(group, name, H5T_STD_I64LE, {int64_t(values.size())}, sizeof(int64_t), w);
  write_buffer(d.get(), H5T_NATIVE_INT64, values.data(), values.size(), w);
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
  check_shape(d.get(), expected, legend, w);
  std::vector<int64_t> values(static_cast<size_t>(expected_size));
  if (!values.empty())
    checked(H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), w,
            "cannot read the dataset");
  return values;
}

}  // namespace attn::data::detail

// Helpers of the case-file tests: a temporary folder per test, small cases with chosen values,
// and editing a written file with the HDF5 C API to build broken files.
#pragma once

#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "datasets/case.hpp"
#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"

namespace attn::data {
/// Readable test names and messages for DType parameters.
inline void PrintTo(DType d, std::ostream* os) { *os << to_string(d); }
}  // namespace attn::data

namespace attn::data::testing {

namespace fs = std::filesystem;

/// A fresh folder under the system temp folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "attn-datasets-";
    if (info) name += std::string(info->test_suite_name()) + "-" + info->name() + "-";
    std::random_device rd;
    name += std::to_string(rd()) + std::to_string(rd());
    for (char& c : name)
      if (c == '/') c = '_';
    path_ = fs::temp_directory_path() / name;
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

  /// Names of the entries in the folder, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

/// A case with every value drawn at random and rounded into `dtype` (valid inputs).
inline CaseInputs random_case(DType dtype, int64_t B = 2, int64_t H = 4, int64_t Hkv = 2,
                              int64_t L = 16, int64_t D = 8, int64_t t = 2, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto fill = [&](std::vector<int64_t> shape) {
    Tensor x = Tensor::zeros(dtype, std::move(shape));
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, round_to(dtype, normal(rng)));
    return x;
  };
  CaseInputs c;
  c.config = CaseConfig{B, H, Hkv, L, D, t, dtype, 0.125};
  c.q = fill({B, H, L, D});
  for (int64_t m = 0; m <= t; ++m) {
    c.k.push_back(fill({B, Hkv, L, D}));
    c.v.push_back(fill({B, Hkv, L, D}));
  }
  for (int64_t b = 0; b < B; ++b) c.valid_len.push_back(L - b);
  c.grad_out = fill({B, H, L, D});
  return c;
}

/// Outputs shaped for `c` with random values, each tensor in its own dtype.
inline AttentionOutputs random_outputs(const CaseConfig& c, DType out_dtype, DType lse_dtype,
                                       DType grad_dtype, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto fill = [&](DType d, std::vector<int64_t> shape) {
    Tensor x = Tensor::zeros(d, std::move(shape));
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, round_to(d, normal(rng)));
    return x;
  };
  AttentionOutputs o;
  o.out = fill(out_dtype, {c.B, c.H, c.L, c.D});
  o.lse = fill(lse_dtype, {c.B, c.H, c.L});
  o.dq = fill(grad_dtype, {c.B, c.H, c.L, c.D});
  for (int64_t m = 0; m <= c.t; ++m) {
    o.dk.push_back(fill(grad_dtype, {c.B, c.Hkv, c.L, c.D}));
    o.dv.push_back(fill(grad_dtype, {c.B, c.Hkv, c.L, c.D}));
  }
  return o;
}

inline uint64_t bits_of(double x) {
  uint64_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

/// Same dtype, shape and bit-identical values (so -0.0 differs from 0.0 and NaN equals NaN).
inline ::testing::AssertionResult same_tensor(const Tensor& a, const Tensor& b) {
  if (a.dtype != b.dtype)
    return ::testing::AssertionFailure()
           << "dtype " << to_string(a.dtype) << " vs " << to_string(b.dtype);
  if (a.shape != b.shape)
    return ::testing::AssertionFailure()
           << "shape " << shape_string(a.shape) << " vs " << shape_string(b.shape);
  if (a.has_storage() != b.has_storage()) return ::testing::AssertionFailure() << "storage differs";
  for (int64_t i = 0; i < a.numel(); ++i)
    if (bits_of(a.at(i)) != bits_of(b.at(i)))
      return ::testing::AssertionFailure() << "element " << i << ": " << a.at(i) << " vs " << b.at(i);
  return ::testing::AssertionSuccess();
}

inline std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// Opens `p` read-write with the HDF5 C API, runs `edit` on the file id, closes. Fails the
/// test on any HDF5 error (so a broken fixture cannot pass for a broken reader).
inline void edit_file(const fs::path& p, const std::function<void(hid_t)>& edit) {
  const hid_t f = H5Fopen(p.string().c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0) << "cannot open " << p;
  edit(f);
  ASSERT_GE(H5Fclose(f), 0);
}

/// Replaces dataset `path` with one of `type` and `dims` holding `data` (in `mem_type`).
inline void replace_dataset(hid_t f, const std::string& path, hid_t type,
                            const std::vector<hsize_t>& dims, hid_t mem_type, const void* data) {
  if (H5Lexists(f, path.c_str(), H5P_DEFAULT) > 0) {
    ASSERT_GE(H5Ldelete(f, path.c_str(), H5P_DEFAULT), 0);
  }
  const hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
  const hid_t d = H5Dcreate2(f, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(d, 0) << "cannot create " << path;
  ASSERT_GE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  H5Dclose(d);
  H5Sclose(space);
}

/// Replaces scalar attribute `name` of object `obj_path` with an int64 (or `type`) value.
inline void replace_int_attribute(hid_t f, const std::string& obj_path, const std::string& name,
                                  int64_t value, hid_t type = H5T_STD_I64LE) {
  const hid_t obj = H5Oopen(f, obj_path.c_str(), H5P_DEFAULT);
  ASSERT_GE(obj, 0);
  if (H5Aexists(obj, name.c_str()) > 0) {
    ASSERT_GE(H5Adelete(obj, name.c_str()), 0);
  }
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(a, 0);
  ASSERT_GE(H5Awrite(a, H5T_NATIVE_INT64, &value), 0);
  H5Aclose(a);
  H5Sclose(space);
  H5Oclose(obj);
}

inline void delete_attribute(hid_t f, const std::string& obj_path, const std::string& name) {
  const hid_t obj = H5Oopen(f, obj_path.c_str(), H5P_DEFAULT);
  ASSERT_GE(obj, 0);
  ASSERT_GE(H5Adelete(obj, name.c_str()), 0);
  H5Oclose(obj);
}

/// A producer record of `outputs` for inputs `in` (their hash set).
inline ProducerOutputs record_for(const std::string& name, const CaseInputs& in,
                                  AttentionOutputs outputs,
                                  std::map<std::string, std::string> provenance = {});

/// Runs `f`, which must throw InputError whose message contains every one of `needles`.
template <typename F>
void expect_input_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "expected InputError, nothing was thrown";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    if (std::getenv("ATTN_PRINT_ERRORS"))
      std::printf("  message: %s\n", msg.c_str());  // for reviewing wording
    for (const std::string& n : needles)
      EXPECT_NE(msg.find(n), std::string::npos) << "message lacks \"" << n << "\":\n  " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InputError, got another exception: " << e.what();
  }
}

}  // namespace attn::data::testing

#include "datasets/input_hash.hpp"

namespace attn::data::testing {
inline ProducerOutputs record_for(const std::string& name, const CaseInputs& in,
                                  AttentionOutputs outputs,
                                  std::map<std::string, std::string> provenance) {
  return ProducerOutputs{name, std::move(provenance), input_hash(in), std::move(outputs)};
}
}  // namespace attn::data::testing

// Case files: every way a file can be wrong gives an InputError that names the file, the
// dataset or attribute, and what was expected and found.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>

#include "datasets/case_file.hpp"
#include "datasets/detail/hdf5_handles.hpp"
#include "datasets/errors.hpp"
#include "datasets/tests/case_test_util.hpp"

namespace attn::data {
namespace {

using namespace attn::data::testing;

/// A valid bf16 case file (B=1, H=4, Hkv=2, L=16, D=8, t=2) in a fresh folder.
class BadFile : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = random_case(DType::bf16, 1, 4, 2, 16, 8, 2);
    write_case(file_, c_);
  }
  std::string name() const { return file_.string(); }
  CaseInputs read() const { return read_case_inputs(file_); }

  TempDir dir_;
  std::filesystem::path file_ = dir_ / "case.h5";
  CaseInputs c_;
};

TEST_F(BadFile, MissingFile) {
  expect_input_error([&] { read_case_inputs(dir_ / "nope.h5"); },
                     {(dir_ / "nope.h5").string(), "no such file"});
  expect_input_error([&] { list_producers(dir_ / "nope.h5"); }, {"no such file"});
  expect_input_error(
      [&] {
        write_producer(dir_ / "nope.h5", ProducerOutputs{"p", {}, {}});
      },
      {"no such file"});
  EXPECT_EQ(dir_.entries(), std::vector<std::string>{"case.h5"});
}

TEST_F(BadFile, PlainTextFile) {
  write_bytes(file_, "B,H,L\n1,2,3\n");
  expect_input_error([&] { read(); }, {name(), "not an HDF5 file"});
  write_bytes(file_, "");
  expect_input_error([&] { read(); }, {name(), "not an HDF5 file"});
}

TEST_F(BadFile, TruncatedFileReportsHdf5sReason) {
  const std::string bytes = file_bytes(file_);
  ASSERT_GT(bytes.size(), 2000u);
  write_bytes(file_, bytes.substr(0, bytes.size() / 2));
  expect_input_error([&] { read(); }, {name(), "truncated", "HDF5 cannot open it"});
  // HDF5's own words ("truncated file: eof = ...") are quoted from its error stack.
  expect_input_error([&] { read(); }, {"eof"});
}

TEST_F(BadFile, NewerSchemaVersion) {
  edit_file(file_,
            [](hid_t f) { replace_int_attribute(f, "/", "schema_version", 2, H5T_STD_I32LE); });
  expect_input_error(
      [&] { read(); },
      {name(), "written by a newer attn-harness: schema_version 2, this build reads up to 1"});
  expect_input_error([&] { list_producers(file_); }, {"schema_version 2"});
}

TEST_F(BadFile, MissingAttribute) {
  edit_file(file_, [](hid_t f) { delete_attribute(f, "/", "scale"); });
  expect_input_error([&] { read(); },
                     {"attribute 'scale' of / in " + name(), "missing", "expected a number"});
  edit_file(file_, [](hid_t f) { delete_attribute(f, "/", "schema_version"); });
  expect_input_error([&] { read(); }, {"attribute 'schema_version' of / in " + name(), "missing"});
}

TEST_F(BadFile, AttributeOfTheWrongType) {
  edit_file(file_, [](hid_t f) {
    H5Adelete(f, "L");
    const double L = 16.0;
    const hid_t sp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, "L", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &L);
    H5Aclose(a);
    H5Sclose(sp);
  });
  expect_input_error([&] { read(); }, {"attribute 'L' of / in " + name(), "expected an integer",
                                       "found 64-bit IEEE float (float64)"});
}

TEST_F(BadFile, UnknownDtypeAttribute) {
  edit_file(file_, [](hid_t f) {
    H5Adelete(f, "dtype");
    detail::write_string_attribute(f, "dtype", "int8", detail::Where{"test", "/"});
  });
  expect_input_error([&] { read(); },
                     {"attribute 'dtype' of / in " + name(), "'int8'", "expected bf16"});
}

TEST_F(BadFile, NonPositiveSizes) {
  edit_file(file_, [](hid_t f) { replace_int_attribute(f, "/", "D", 0); });
  expect_input_error([&] { read(); }, {"attribute 'D' of / in " + name(), "positive", "found 0"});
  write_case(file_, c_);
  edit_file(file_, [](hid_t f) { replace_int_attribute(f, "/", "L", -5); });
  expect_input_error([&] { read(); }, {"attribute 'L' of / in " + name(), "found -5"});
}

TEST_F(BadFile, HeadsNotAMultipleOfKvHeads) {
  edit_file(file_, [](hid_t f) { replace_int_attribute(f, "/", "Hkv", 3); });
  expect_input_error([&] { read(); },
                     {"'H' and 'Hkv'", name(), "multiple of Hkv", "found H = 4, Hkv = 3"});
}

TEST_F(BadFile, QStoredAsInt32) {
  edit_file(file_, [&](hid_t f) {
    std::vector<int32_t> q(c_.q.values.size(), 1);
    replace_dataset(f, "/inputs/q", H5T_STD_I32LE, {1, 4, 16, 8}, H5T_NATIVE_INT32, q.data());
  });
  expect_input_error([&] { read(); }, {"unsupported element type for /inputs/q in " + name(),
                                       "expected bf16, float32 or float64, found 32-bit integer"});
}

TEST_F(BadFile, QStoredAsIeeeHalf) {
  edit_file(file_, [&](hid_t f) {
    const hid_t half = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(half, 15, 10, 5, 0, 10);
    H5Tset_precision(half, 16);
    H5Tset_size(half, 2);
    H5Tset_ebias(half, 15);
    std::vector<float> q(c_.q.values.size(), 0.5f);
    replace_dataset(f, "/inputs/q", half, {1, 4, 16, 8}, H5T_NATIVE_FLOAT, q.data());
    H5Tclose(half);
  });
  expect_input_error([&] { read(); }, {"unsupported element type for /inputs/q in " + name(),
                                       "found 16-bit IEEE half (float16)"});
}

TEST_F(BadFile, BlockInAnotherDtypeThanTheCase) {
  edit_file(file_, [&](hid_t f) {
    std::vector<float> k(c_.k[1].values.begin(), c_.k[1].values.end());
    replace_dataset(f, "/inputs/k1", H5T_IEEE_F32LE, {1, 2, 16, 8}, H5T_NATIVE_FLOAT, k.data());
  });
  expect_input_error([&] { read(); }, {"/inputs/k1 in " + name(), "expected element type bf16",
                                       "case dtype", "found 32-bit IEEE float (float32)"});
}

TEST_F(BadFile, KBlockOfTheWrongShape) {
  edit_file(file_, [&](hid_t f) {
    std::vector<float> k(1 * 2 * 15 * 8, 0.0f);
    replace_dataset(f, "/inputs/k2", detail::make_bf16_type().get(), {1, 2, 15, 8},
                    H5T_NATIVE_FLOAT, k.data());
  });
  expect_input_error([&] { read(); },
                     {"/inputs/k2 in " + name() +
                      ": expected shape [1, 2, 16, 8] (B, Hkv, L, D), found [1, 2, 15, 8]"});
}

TEST_F(BadFile, QOfTheWrongRank) {
  edit_file(file_, [&](hid_t f) {
    std::vector<float> q(c_.q.values.size(), 0.0f);
    replace_dataset(f, "/inputs/q", detail::make_bf16_type().get(), {4, 16, 8}, H5T_NATIVE_FLOAT,
                    q.data());
  });
  expect_input_error(
      [&] { read(); },
      {"/inputs/q in " + name(), "expected shape [1, 4, 16, 8] (B, H, L, D), found [4, 16, 8]"});
}

TEST_F(BadFile, TooManyOrTooFewCacheBlocks) {
  edit_file(file_, [&](hid_t f) {
    std::vector<float> k(c_.k[0].values.size(), 0.0f);
    replace_dataset(f, "/inputs/k3", detail::make_bf16_type().get(), {1, 2, 16, 8},
                    H5T_NATIVE_FLOAT, k.data());
  });
  expect_input_error([&] { read(); }, {"/inputs/k3 in " + name(),
                                       "t = 2 needs t + 1 = 3 key blocks k0..k2, found 4"});
  write_case(file_, c_);
  edit_file(file_, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/inputs/v1", H5P_DEFAULT), 0); });
  expect_input_error([&] { read(); }, {"/inputs/v1 in " + name(), "missing dataset",
                                       "t + 1 = 3 value blocks", "found 2 (v0, v2)"});
}

TEST_F(BadFile, MissingGradOut) {
  edit_file(file_, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/inputs/grad_out", H5P_DEFAULT), 0); });
  expect_input_error([&] { read(); }, {"/inputs/grad_out in " + name(), "missing dataset",
                                       "[1, 4, 16, 8] (B, H, L, D)"});
}

TEST_F(BadFile, MissingInputsGroup) {
  edit_file(file_, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/inputs", H5P_DEFAULT), 0); });
  expect_input_error([&] { read(); }, {"/inputs in " + name(), "missing group"});
}

TEST_F(BadFile, ValidLenOutsideZeroToL) {
  edit_file(file_, [](hid_t f) {
    const int64_t vl = 17;
    replace_dataset(f, "/inputs/valid_len", H5T_STD_I64LE, {1}, H5T_NATIVE_INT64, &vl);
  });
  expect_input_error([&] { read(); }, {"/inputs/valid_len in " + name(),
                                       "valid_len[0] = 17 is outside [0, L] = [0, 16]"});
  edit_file(file_, [](hid_t f) {
    const int64_t vl = -1;
    replace_dataset(f, "/inputs/valid_len", H5T_STD_I64LE, {1}, H5T_NATIVE_INT64, &vl);
  });
  expect_input_error([&] { read(); }, {"valid_len[0] = -1 is outside"});
  edit_file(file_, [](hid_t f) {
    const int64_t vl[2] = {16, 16};
    replace_dataset(f, "/inputs/valid_len", H5T_STD_I64LE, {2}, H5T_NATIVE_INT64, vl);
  });
  expect_input_error([&] { read(); },
                     {"/inputs/valid_len in " + name(), "expected shape [1] (B), found [2]"});
  edit_file(file_, [](hid_t f) {
    const double vl = 16;
    replace_dataset(f, "/inputs/valid_len", H5T_IEEE_F64LE, {1}, H5T_NATIVE_DOUBLE, &vl);
  });
  expect_input_error([&] { read(); },
                     {"unsupported element type for /inputs/valid_len in " + name(), "integer",
                      "found 64-bit IEEE float (float64)"});
}

TEST_F(BadFile, NanOrInfInAnInput) {
  // Overwrite one element of q in place with a bf16 NaN bit pattern: flat index 37 of
  // [1, 4, 16, 8] is (0, 0, 4, 5).
  edit_file(file_, [&](hid_t f) {
    std::vector<uint16_t> bits(c_.q.values.size());
    for (size_t i = 0; i < bits.size(); ++i) bits[i] = bf16_bits_from_double(c_.q.values[i]);
    bits[37] = 0x7FC0;
    const hid_t d = H5Dopen2(f, "/inputs/q", H5P_DEFAULT);
    ASSERT_GE(
        H5Dwrite(d, detail::make_bf16_type().get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()), 0);
    H5Dclose(d);
  });
  expect_input_error(
      [&] { read(); },
      {"/inputs/q in " + name(), "NaN at flat index 37 (coordinates [0, 0, 4, 5])", "finite"});
  write_case(file_, c_);
  edit_file(file_, [&](hid_t f) {
    std::vector<uint16_t> bits(c_.v[2].values.size(), 0x3F80);
    bits.back() = 0xFF80;  // -inf
    const hid_t d = H5Dopen2(f, "/inputs/v2", H5P_DEFAULT);
    ASSERT_GE(
        H5Dwrite(d, detail::make_bf16_type().get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()), 0);
    H5Dclose(d);
  });
  expect_input_error([&] { read(); }, {"/inputs/v2 in " + name(),
                                       "-Inf at flat index 255 (coordinates [0, 1, 15, 7])"});
}

TEST_F(BadFile, ProducerMissingADatasetOrOfTheWrongShape) {
  ProducerOutputs p{"flash",
                    {{"backend", "flash"}},
                    random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16)};
  write_producer(file_, p);
  edit_file(file_, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/outputs/flash/dq", H5P_DEFAULT), 0); });
  expect_input_error(
      [&] { read_producer(file_, "flash", c_); },
      {"/outputs/flash/dq in " + name(), "missing dataset", "[1, 4, 16, 8] (B, H, L, D)"});
  write_producer(file_, p);
  edit_file(file_, [](hid_t f) {
    std::vector<float> lse(4 * 16 * 2, 0.0f);
    replace_dataset(f, "/outputs/flash/lse", H5T_IEEE_F32LE, {1, 4, 32}, H5T_NATIVE_FLOAT,
                    lse.data());
  });
  expect_input_error(
      [&] { read_producer(file_, "flash", c_); },
      {"/outputs/flash/lse in " + name(), "expected shape [1, 4, 16] (B, H, L), found [1, 4, 32]"});
  write_producer(file_, p);
  edit_file(file_, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/outputs/flash/dk2", H5P_DEFAULT), 0); });
  expect_input_error([&] { read_producer(file_, "flash", c_); },
                     {"/outputs/flash/dk2 in " + name(), "missing dataset", "t + 1 = 3"});
  expect_input_error([&] { read_producer(file_, "sdpa", c_); },
                     {"/outputs/sdpa in " + name(), "no such producer", "found: flash"});
  expect_input_error([&] { read_producer_provenance(file_, "sdpa"); },
                     {"/outputs/sdpa", "no such producer"});
}

TEST_F(BadFile, WritingAProducerOfTheWrongShapeIsRefused) {
  ProducerOutputs p{"flash", {}, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16)};
  p.outputs.lse = Tensor::zeros(DType::f32, {1, 4, 15});
  expect_input_error(
      [&] { write_producer(file_, p); },
      {"/outputs/flash/lse in " + name(), "expected shape [1, 4, 16] (B, H, L), found [1, 4, 15]"});
  p = ProducerOutputs{"flash", {}, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16)};
  p.outputs.dv.pop_back();
  expect_input_error([&] { write_producer(file_, p); },
                     {"/outputs/flash/dv0..dv2 in " + name(), "t + 1 = 3 blocks, found 2"});
  p.name = "a/b";
  expect_input_error([&] { write_producer(file_, p); }, {"invalid producer name 'a/b'"});
}

// validate_case: the in-memory checks, named like the file's datasets.
TEST(ValidateCase, NamesTheOffendingTensor) {
  const CaseInputs good = random_case(DType::bf16, 1, 4, 2, 16, 8, 2);
  EXPECT_NO_THROW(validate_case(good, "mem"));
  CaseInputs c = good;
  c.q.values[3] = NAN;
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"/inputs/q in mem", "NaN at flat index 3 (coordinates [0, 0, 0, 3])"});
  c = good;
  c.grad_out.values[1] = 1.0 + std::ldexp(1.0, -12);  // not a bf16 value
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"/inputs/grad_out in mem", "is not a bf16 value"});
  c = good;
  c.k.pop_back();
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"/inputs/k0..k2 in mem", "t + 1 = 3 key blocks, found 2"});
  c = good;
  c.v[1].dtype = DType::f32;
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"/inputs/v1 in mem", "expected element type bf16", "found f32"});
  c = good;
  c.q.values.pop_back();
  expect_input_error([&] { validate_case(c, "mem"); }, {"/inputs/q in mem", "holds 511 values"});
  c = good;
  c.config.scale = NAN;
  expect_input_error([&] { validate_case(c, "mem"); }, {"attribute 'scale'", "found nan"});
  c = good;
  c.config.t = -1;
  expect_input_error([&] { validate_case(c, "mem"); }, {"attribute 't'", "found -1"});
  c = good;
  c.valid_len = {17};
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"valid_len[0] = 17 is outside [0, L] = [0, 16]"});
}

}  // namespace
}  // namespace attn::data

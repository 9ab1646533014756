// Case files: every way a case can be wrong gives an InputError that names the file, the
// dataset or attribute, and what was expected and found; a damaged record leaves the rest of
// the case usable.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>

#include "datasets/case_store.hpp"
#include "datasets/detail/hdf5_handles.hpp"
#include "datasets/errors.hpp"
#include "datasets/limits.hpp"
#include "datasets/tests/case_test_util.hpp"

namespace attn::data {
namespace {

using namespace attn::data::testing;

/// A valid bf16 case folder (B=1, H=4, Hkv=2, L=16, D=8, t=2) in a fresh folder.
class BadFile : public ::testing::Test {
 protected:
  void SetUp() override {
    c_ = random_case(DType::bf16, 1, 4, 2, 16, 8, 2);
    write_case(case_, c_);
  }
  std::string name() const { return file_.string(); }
  CaseInputs read() const { return read_case_inputs(case_); }

  TempDir dir_;
  std::filesystem::path case_ = dir_ / "case";
  std::filesystem::path file_ = case_ / "inputs.h5";
  CaseInputs c_;
};

TEST_F(BadFile, MissingCaseOrInputs) {
  expect_input_error([&] { read_case_inputs(dir_ / "nope"); },
                     {(dir_ / "nope").string(), "no such case"});
  std::filesystem::create_directories(dir_ / "empty");
  expect_input_error([&] { read_manifest(dir_ / "empty"); },
                     {"without inputs.h5", "attn-harness generate -o FOLDER"});
  std::filesystem::remove(file_);
  expect_input_error([&] { read(); }, {"without inputs.h5"});
}

TEST_F(BadFile, PlainTextFile) {
  write_bytes(file_, "B,H,L\n1,2,3\n");
  expect_input_error([&] { read(); }, {name(), "not an HDF5 file"});
  write_bytes(file_, "");
  expect_input_error([&] { read(); }, {name(), "not an HDF5 file"});
}

TEST_F(BadFile, TruncatedFileIsNamed) {
  const std::string bytes = file_bytes(file_);
  ASSERT_GT(bytes.size(), 2000u);
  write_bytes(file_, bytes.substr(0, bytes.size() / 2));
  // Either HDF5 notices at open (its own words quoted) or the data check finds the end of
  // the file before the end of a dataset.
  try {
    read();
    ADD_FAILURE() << "a truncated file was read";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(name()), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
}

TEST_F(BadFile, NewerSchemaVersion) {
  edit_file(file_,
            [](hid_t f) { replace_int_attribute(f, "/", "schema_version", 3, H5T_STD_I32LE); });
  expect_input_error(
      [&] { read(); },
      {name(), "written by a newer attn-harness: schema_version 3, this build reads up to 2"});
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
  write_case(case_, c_);
  edit_file(file_, [](hid_t f) { replace_int_attribute(f, "/", "L", -5); });
  expect_input_error([&] { read(); }, {"attribute 'L' of / in " + name(), "found -5"});
}

// A small file claiming absurd sizes is refused before anything is multiplied or allocated.
TEST_F(BadFile, AbsurdSizesAreRefusedByTheLimits) {
  edit_file(file_, [](hid_t f) { replace_int_attribute(f, "/", "L", int64_t(1) << 56); });
  expect_input_error([&] { read_manifest(case_); },
                     {"attribute 'L' of / in " + name(), "above the limit L <= 1048576"});
  write_case(case_, c_);
  edit_file(file_, [](hid_t f) { replace_int_attribute(f, "/", "t", 100000); });
  expect_input_error([&] { read_manifest(case_); }, {"attribute 't'", "above the limit t <= 255"});
  write_case(case_, c_);
  edit_file(file_, [](hid_t f) {
    replace_int_attribute(f, "/", "B", 4096);
    replace_int_attribute(f, "/", "H", 4096);
    replace_int_attribute(f, "/", "Hkv", 4096);
    replace_int_attribute(f, "/", "L", 1048576);
    replace_int_attribute(f, "/", "D", 1024);
  });
  expect_input_error([&] { read_manifest(case_); }, {"more than 2^36 elements"});
}

// A dataset whose shape matches but whose data was never written (a sparse file of a few KiB
// claiming gigabytes) is found from its header, before any allocation.
TEST_F(BadFile, DatasetWithoutWrittenDataIsDamaged) {
  edit_file(file_, [](hid_t f) {
    ASSERT_GE(H5Ldelete(f, "/inputs/q", H5P_DEFAULT), 0);
    const hsize_t dims[4] = {1, 4, 16, 8};
    const hid_t space = H5Screate_simple(4, dims, nullptr);
    const hid_t d = H5Dcreate2(f, "/inputs/q", detail::make_bf16_type().get(), space, H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(d, 0);
    H5Dclose(d);
    H5Sclose(space);
  });
  expect_input_error([&] { read_manifest(case_); }, {"/inputs/q in " + name(), "never written"});
}

TEST_F(BadFile, HeadsNotAMultipleOfKvHeads) {
  edit_file(file_, [](hid_t f) { replace_int_attribute(f, "/", "Hkv", 3); });
  expect_input_error([&] { read(); },
                     {"'H' and 'Hkv'", name(), "multiple of Hkv", "found H = 4, Hkv = 3"});
}

TEST_F(BadFile, QStoredAsInt32) {
  edit_file(file_, [&](hid_t f) {
    std::vector<int32_t> q(size_t(c_.q.numel()), 1);
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
    std::vector<float> q(size_t(c_.q.numel()), 0.5f);
    replace_dataset(f, "/inputs/q", half, {1, 4, 16, 8}, H5T_NATIVE_FLOAT, q.data());
    H5Tclose(half);
  });
  expect_input_error([&] { read(); }, {"unsupported element type for /inputs/q in " + name(),
                                       "found 16-bit IEEE half (float16)"});
}

TEST_F(BadFile, BlockInAnotherDtypeThanTheCase) {
  edit_file(file_, [&](hid_t f) {
    const std::vector<double> kd = c_.k[1].to_f64();
    std::vector<float> k(kd.begin(), kd.end());
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
    std::vector<float> q(size_t(c_.q.numel()), 0.0f);
    replace_dataset(f, "/inputs/q", detail::make_bf16_type().get(), {4, 16, 8}, H5T_NATIVE_FLOAT,
                    q.data());
  });
  expect_input_error(
      [&] { read(); },
      {"/inputs/q in " + name(), "expected shape [1, 4, 16, 8] (B, H, L, D), found [4, 16, 8]"});
}

TEST_F(BadFile, TooManyOrTooFewCacheBlocks) {
  edit_file(file_, [&](hid_t f) {
    std::vector<float> k(size_t(c_.k[0].numel()), 0.0f);
    replace_dataset(f, "/inputs/k3", detail::make_bf16_type().get(), {1, 2, 16, 8},
                    H5T_NATIVE_FLOAT, k.data());
  });
  expect_input_error([&] { read(); }, {"/inputs/k3 in " + name(),
                                       "t = 2 needs t + 1 = 3 key blocks k0..k2, found 4"});
  write_case(case_, c_);
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
  // Overwrite one element of q with a bf16 NaN bit pattern: flat index 37 of [1, 4, 16, 8] is
  // (0, 0, 4, 5).
  edit_file(file_, [&](hid_t f) {
    std::vector<uint16_t> bits(c_.q.data<uint16_t>(), c_.q.data<uint16_t>() + c_.q.numel());
    bits[37] = 0x7FC0;
    const hid_t d = H5Dopen2(f, "/inputs/q", H5P_DEFAULT);
    ASSERT_GE(
        H5Dwrite(d, detail::make_bf16_type().get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()), 0);
    H5Dclose(d);
  });
  expect_input_error(
      [&] { read(); },
      {"/inputs/q in " + name(), "NaN at flat index 37 (coordinates [0, 0, 4, 5])", "finite"});
  write_case(case_, c_);
  edit_file(file_, [&](hid_t f) {
    std::vector<uint16_t> bits(size_t(c_.v[2].numel()), 0x3F80);
    bits.back() = 0xFF80;  // -inf
    const hid_t d = H5Dopen2(f, "/inputs/v2", H5P_DEFAULT);
    ASSERT_GE(
        H5Dwrite(d, detail::make_bf16_type().get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data()), 0);
    H5Dclose(d);
  });
  expect_input_error([&] { read(); }, {"/inputs/v2 in " + name(),
                                       "-Inf at flat index 255 (coordinates [0, 1, 15, 7])"});
}

TEST_F(BadFile, DamagedProducerIsDescribedAndTheOthersStayUsable) {
  const ProducerOutputs p =
      record_for("flash", c_, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16),
                 {{"backend", "flash"}});
  write_producer(read_manifest(case_), p);
  write_producer(read_manifest(case_), record_for("sdpa", c_, p.outputs));
  const std::filesystem::path flash = case_ / "outputs" / "flash.h5";
  edit_file(flash, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/dq", H5P_DEFAULT), 0); });
  {
    // dq missing: the record holds out, lse, dk, dv (allowed: a producer may record a subset).
    const CaseManifest m = read_manifest(case_);
    ASSERT_TRUE(m.find_producer("flash"));
    EXPECT_EQ(m.find_producer("flash")->damage, "");
    EXPECT_EQ(std::count(m.find_producer("flash")->tensors.begin(),
                         m.find_producer("flash")->tensors.end(), "dq"), 0);
    expect_input_error([&] { read_record(m, *m.find_producer("flash"), {"dq"}); },
                       {"/dq", "not recorded", "holds out, lse, dk0"});
  }
  edit_file(flash, [](hid_t f) {
    std::vector<float> lse(4 * 16 * 2, 0.0f);
    replace_dataset(f, "/lse", H5T_IEEE_F32LE, {1, 4, 32}, H5T_NATIVE_FLOAT, lse.data());
  });
  {
    const CaseManifest m = read_manifest(case_);
    const RecordInfo* r = m.find_producer("flash");
    ASSERT_TRUE(r);
    EXPECT_NE(r->damage.find("/lse in " + flash.string() +
                             ": expected shape [1, 4, 16] (B, H, L), found [1, 4, 32]"),
              std::string::npos)
        << r->damage;
    EXPECT_EQ(record_state(*r, input_hash(c_)), RecordState::damaged);
    expect_input_error([&] { read_record(m, *r); }, {"producer 'flash'", "cannot be read"});
    // The other producer is untouched.
    ASSERT_TRUE(m.find_producer("sdpa"));
    EXPECT_EQ(m.find_producer("sdpa")->damage, "");
    EXPECT_NO_THROW(read_record(m, *m.find_producer("sdpa")));
  }
  edit_file(flash, [](hid_t f) { ASSERT_GE(H5Ldelete(f, "/dk2", H5P_DEFAULT), 0); });
  EXPECT_NE(read_manifest(case_).find_producer("flash")->damage.find("t + 1 = 3"), std::string::npos);
  write_bytes(flash, "garbage");
  EXPECT_NE(read_manifest(case_).find_producer("flash")->damage.find("not an HDF5 file"),
            std::string::npos);
}

TEST_F(BadFile, WritingAProducerOfTheWrongShapeIsRefused) {
  const CaseManifest m = read_manifest(case_);
  ProducerOutputs p =
      record_for("flash", c_, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16));
  p.outputs.lse = Tensor::zeros(DType::f32, {1, 4, 15});
  expect_input_error([&] { write_producer(m, p); },
                     {"flash.h5 /lse", "expected shape [1, 4, 16], found [1, 4, 15]"});
  p = record_for("flash", c_, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16));
  p.outputs.dv.pop_back();
  expect_input_error([&] { write_producer(m, p); }, {"t + 1 = 3 dv blocks (or none), found 2"});
  p.name = "a/b";
  expect_input_error([&] { write_producer(m, p); }, {"invalid producer name 'a/b'"});
  p = record_for("flash", c_, random_outputs(c_.config, DType::bf16, DType::f32, DType::bf16));
  p.input_hash.clear();
  expect_input_error([&] { write_producer(m, p); }, {"needs the input_hash"});
  EXPECT_FALSE(std::filesystem::exists(case_ / "outputs" / "flash.h5"));
}

// The cached reference must be finite: a NaN in it is an error naming the remedy, not a
// silently skipped element.
TEST_F(BadFile, NonFiniteCachedReferenceIsAnError) {
  AttentionOutputs o = random_outputs(c_.config, DType::f64, DType::f64, DType::f64);
  o.dk[1].set(5, NAN);
  write_reference(read_manifest(case_), record_for("reference", c_, o));
  const CaseManifest m = read_manifest(case_);
  ASSERT_TRUE(m.reference);
  EXPECT_NO_THROW(read_record(m, *m.reference, {"out"}));
  expect_input_error([&] { read_record(m, *m.reference); },
                     {"/dk1 in " + (case_ / "reference.h5").string(), "NaN at flat index 5",
                      "reference must be finite", "--force"});
}

// validate_case: the in-memory checks, named like the file's datasets.
TEST(ValidateCase, NamesTheOffendingTensor) {
  const CaseInputs good = random_case(DType::bf16, 1, 4, 2, 16, 8, 2);
  EXPECT_NO_THROW(validate_case(good, "mem"));
  CaseInputs c = good;
  c.q = good.q.clone();
  c.q.set(3, NAN);
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"/inputs/q in mem", "NaN at flat index 3 (coordinates [0, 0, 0, 3])"});
  c = good;
  c.k.pop_back();
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"mem", "t + 1 = 3 key blocks, found 2"});
  c = good;
  c.v[1] = Tensor::zeros(DType::f32, c.v[1].shape);
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"/inputs/v1 in mem", "expected element type bf16", "found f32"});
  c = good;
  c.q = Tensor::zeros(DType::bf16, {1, 4, 16, 7});
  expect_input_error([&] { validate_case(c, "mem"); }, {"/inputs/q in mem", "found [1, 4, 16, 7]"});
  c = good;
  c.config.scale = NAN;
  expect_input_error([&] { validate_case(c, "mem"); }, {"softmax scale", "found nan"});
  c = good;
  c.config.t = -1;
  expect_input_error([&] { validate_case(c, "mem"); }, {"t = -1"});
  c = good;
  c.valid_len = {17};
  expect_input_error([&] { validate_case(c, "mem"); },
                     {"valid_len[0] = 17 is outside [0, L] = [0, 16]"});
  c = good;
  c.config.L = kMaxSeq + 1;
  expect_input_error([&] { validate_case(c, "mem"); }, {"L = 1048577 is outside [1, 1048576]"});
}

}  // namespace
}  // namespace attn::data

// Case files: what is written is read back bit for bit (inputs in every dtype, valid_len,
// generator parameters, producers with provenance, the cached reference), and the layout is
// what case_file.hpp documents (compression, bf16 type, attribute types).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>

#include "datasets/case_file.hpp"
#include "datasets/errors.hpp"
#include "datasets/tests/case_test_util.hpp"

namespace attn::data {
namespace {

using namespace attn::data::testing;

void expect_same_inputs(const CaseInputs& a, const CaseInputs& b) {
  EXPECT_EQ(a.config.B, b.config.B);
  EXPECT_EQ(a.config.H, b.config.H);
  EXPECT_EQ(a.config.Hkv, b.config.Hkv);
  EXPECT_EQ(a.config.L, b.config.L);
  EXPECT_EQ(a.config.D, b.config.D);
  EXPECT_EQ(a.config.t, b.config.t);
  EXPECT_EQ(a.config.dtype, b.config.dtype);
  EXPECT_EQ(bits_of(a.config.scale), bits_of(b.config.scale));
  EXPECT_TRUE(same_tensor(a.q, b.q));
  ASSERT_EQ(a.k.size(), b.k.size());
  ASSERT_EQ(a.v.size(), b.v.size());
  for (size_t m = 0; m < a.k.size(); ++m) {
    EXPECT_TRUE(same_tensor(a.k[m], b.k[m])) << "k" << m;
    EXPECT_TRUE(same_tensor(a.v[m], b.v[m])) << "v" << m;
  }
  EXPECT_EQ(a.valid_len, b.valid_len);
  EXPECT_TRUE(same_tensor(a.grad_out, b.grad_out));
}

void expect_same_outputs(const AttentionOutputs& a, const AttentionOutputs& b) {
  EXPECT_TRUE(same_tensor(a.out, b.out));
  EXPECT_TRUE(same_tensor(a.lse, b.lse));
  EXPECT_TRUE(same_tensor(a.dq, b.dq));
  ASSERT_EQ(a.dk.size(), b.dk.size());
  ASSERT_EQ(a.dv.size(), b.dv.size());
  for (size_t m = 0; m < a.dk.size(); ++m) {
    EXPECT_TRUE(same_tensor(a.dk[m], b.dk[m])) << "dk" << m;
    EXPECT_TRUE(same_tensor(a.dv[m], b.dv[m])) << "dv" << m;
  }
}

class RoundTrip : public ::testing::TestWithParam<DType> {};

TEST_P(RoundTrip, InputsAreReadBackBitForBit) {
  TempDir dir;
  CaseInputs c = random_case(GetParam());
  // Extremes of the dtype next to the random values: signed zero, smallest subnormal, largest
  // finite value, a value that needs every mantissa bit.
  const double extremes[] = {
      -0.0, GetParam() == DType::f64 ? 4.9406564584124654e-324 : std::ldexp(1.0, -133),
      GetParam() == DType::bf16 ? std::ldexp(255.0, 120) : 3.4028234663852886e38,
      round_to(GetParam(), -1.0 / 3.0)};
  for (size_t i = 0; i < 4; ++i) c.q.values[i] = extremes[i];
  c.k[1].values[5] = -0.0;
  c.valid_len = {16, 3};
  write_case(dir / "c.h5", c);
  const CaseInputs r = read_case_inputs(dir / "c.h5");
  expect_same_inputs(c, r);
  EXPECT_FALSE(r.generator.has_value());
  EXPECT_EQ(input_hash(r), input_hash(c));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"c.h5"});  // no temporary file left
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, RoundTrip,
                         ::testing::Values(DType::bf16, DType::f32, DType::f64),
                         [](const auto& info) { return to_string(info.param); });

TEST(CaseFile, GeneratorParamsRoundTrip) {
  TempDir dir;
  CaseInputs c = random_case(DType::bf16);
  GeneratorParams p;
  p.preset = "llama3-8b+custom";
  p.seed = 0xFEDCBA9876543210ULL;  // above INT64_MAX: must survive as uint64
  p.pad = {0, 1};
  p.rope_theta = 500000.0;
  p.logit_std = 2.5;
  p.outlier_channels = 4;
  p.outlier_gain = 8.0;
  p.grad_scale = 1e-3;
  c.generator = p;
  write_case(dir / "g.h5", c);
  const CaseInputs r = read_case_inputs(dir / "g.h5");
  ASSERT_TRUE(r.generator.has_value());
  EXPECT_EQ(r.generator->preset, p.preset);
  EXPECT_EQ(r.generator->seed, p.seed);
  EXPECT_EQ(r.generator->pad, p.pad);
  EXPECT_EQ(r.generator->rope_theta, p.rope_theta);
  EXPECT_EQ(r.generator->logit_std, p.logit_std);
  EXPECT_EQ(r.generator->outlier_channels, p.outlier_channels);
  EXPECT_EQ(r.generator->outlier_gain, p.outlier_gain);
  EXPECT_EQ(r.generator->grad_scale, p.grad_scale);

  c.generator->pad.clear();  // an empty pad list is stored as a null dataspace
  write_case(dir / "g.h5", c);
  EXPECT_TRUE(read_case_inputs(dir / "g.h5").generator->pad.empty());
}

// Scale 0 means 1/sqrt(D): the writer stores that value, and the hash treats both alike.
TEST(CaseFile, ZeroScaleIsStoredAsOneOverSqrtD) {
  TempDir dir;
  CaseInputs c = random_case(DType::f32, 1, 2, 1, 8, 16, 0);
  c.config.scale = 0.0;
  write_case(dir / "s.h5", c);
  const CaseInputs r = read_case_inputs(dir / "s.h5");
  EXPECT_EQ(r.config.scale, 0.25);
  EXPECT_EQ(input_hash(r), input_hash(c));
}

// Attribute and element types as documented: schema_version int32, sizes int64, bf16 as a
// 2-byte float with bf16's fields, large datasets chunked and gzip-compressed, small ones not.
TEST(CaseFile, LayoutTypesAndCompression) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16, 2, 4, 2, 64, 32, 1);
  write_case(dir / "l.h5", c);
  const hid_t f = H5Fopen((dir / "l.h5").string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  auto attr_type_equals = [&](const char* name, hid_t expected) {
    const hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    const hid_t t = H5Aget_type(a);
    const bool eq = H5Tequal(t, expected) > 0;
    H5Tclose(t);
    H5Aclose(a);
    return eq;
  };
  EXPECT_TRUE(attr_type_equals("schema_version", H5T_STD_I32LE));
  EXPECT_TRUE(attr_type_equals("L", H5T_STD_I64LE));
  EXPECT_TRUE(attr_type_equals("scale", H5T_IEEE_F64LE));

  const hid_t q = H5Dopen2(f, "/inputs/q", H5P_DEFAULT);
  const hid_t t = H5Dget_type(q);
  size_t spos, epos, esize, mpos, msize;
  H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize);
  EXPECT_EQ(H5Tget_class(t), H5T_FLOAT);
  EXPECT_EQ(H5Tget_size(t), 2u);
  EXPECT_EQ(H5Tget_precision(t), 16u);
  EXPECT_EQ(H5Tget_ebias(t), 127u);
  EXPECT_EQ(H5Tget_order(t), H5T_ORDER_LE);
  EXPECT_EQ((std::vector<size_t>{spos, epos, esize, mpos, msize}),
            (std::vector<size_t>{15, 7, 8, 0, 7}));
  const hid_t dcpl = H5Dget_create_plist(q);
  EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
  hsize_t chunk[4] = {0, 0, 0, 0};
  EXPECT_EQ(H5Pget_chunk(dcpl, 4, chunk), 4);
  // Chunks are as large as 1 MiB allows: this 32 KiB tensor is one chunk.
  EXPECT_EQ((std::vector<hsize_t>(chunk, chunk + 4)), (std::vector<hsize_t>{2, 4, 64, 32}));
  bool has_deflate = false;
  for (int i = 0; i < H5Pget_nfilters(dcpl); ++i) {
    unsigned flags = 0, level = 0;
    size_t n = 1;
    if (H5Pget_filter2(dcpl, unsigned(i), &flags, &n, &level, 0, nullptr, nullptr) ==
        H5Z_FILTER_DEFLATE) {
      has_deflate = true;
      EXPECT_EQ(level, 4u);
    }
  }
  EXPECT_TRUE(has_deflate);
  H5Pclose(dcpl);
  H5Tclose(t);
  H5Dclose(q);

  const hid_t vl = H5Dopen2(f, "/inputs/valid_len", H5P_DEFAULT);
  const hid_t vt = H5Dget_type(vl);
  EXPECT_GT(H5Tequal(vt, H5T_STD_I64LE), 0);
  const hid_t vp = H5Dget_create_plist(vl);
  EXPECT_EQ(H5Pget_layout(vp), H5D_CONTIGUOUS);  // 16 bytes: not worth a chunk
  H5Pclose(vp);
  H5Tclose(vt);
  H5Dclose(vl);
  H5Fclose(f);
}

// An [L, D] slice over 1 MiB is split into row blocks of at most 1 MiB, and still round-trips.
TEST(CaseFile, LargeSlicesAreChunkedUnderOneMiB) {
  TempDir dir;
  const CaseInputs c = random_case(DType::f64, 1, 1, 1, 1100, 128, 0);
  write_case(dir / "big.h5", c);
  const hid_t f = H5Fopen((dir / "big.h5").string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t q = H5Dopen2(f, "/inputs/q", H5P_DEFAULT);
  const hid_t dcpl = H5Dget_create_plist(q);
  hsize_t chunk[4] = {0, 0, 0, 0};
  ASSERT_EQ(H5Pget_chunk(dcpl, 4, chunk), 4);
  EXPECT_EQ((std::vector<hsize_t>(chunk, chunk + 4)), (std::vector<hsize_t>{1, 1, 1024, 128}));
  H5Pclose(dcpl);
  H5Dclose(q);
  H5Fclose(f);
  expect_same_inputs(c, read_case_inputs(dir / "big.h5"));

  // [1, 4, 512, 128] f64 is 2 MiB of 512 KiB slices: two whole slices a chunk.
  const CaseInputs c2 = random_case(DType::f64, 1, 4, 1, 512, 128, 0);
  write_case(dir / "big2.h5", c2);
  const hid_t f2 = H5Fopen((dir / "big2.h5").string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t q2 = H5Dopen2(f2, "/inputs/q", H5P_DEFAULT);
  const hid_t dcpl2 = H5Dget_create_plist(q2);
  ASSERT_EQ(H5Pget_chunk(dcpl2, 4, chunk), 4);
  EXPECT_EQ((std::vector<hsize_t>(chunk, chunk + 4)), (std::vector<hsize_t>{1, 2, 512, 128}));
  H5Pclose(dcpl2);
  H5Dclose(q2);
  H5Fclose(f2);
  expect_same_inputs(c2, read_case_inputs(dir / "big2.h5"));
}

TEST(CaseFile, ProducersRoundTripWithProvenance) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16);
  write_case(dir / "p.h5", c);
  EXPECT_TRUE(list_producers(dir / "p.h5").empty());

  ProducerOutputs flash{"flash-lse",
                        {{"backend", "flash-lse"},
                         {"device", "cuda:0"},
                         {"torch_version", "2.11.0"},
                         {"time", "2025-01-01T00:00:00Z"}},
                        random_outputs(c.config, DType::bf16, DType::f32, DType::bf16, 1)};
  flash.outputs.out.values[3] = NAN;  // a candidate's NaN or Inf must be recorded as it is
  flash.outputs.dq.values[4] = -INFINITY;
  ProducerOutputs sdpa{"sdpa",
                       {{"backend", "sdpa"}, {"note", "ünïcode ✓"}, {"empty", ""}},
                       random_outputs(c.config, DType::f32, DType::f64, DType::f64, 2)};
  write_producer(dir / "p.h5", sdpa);
  write_producer(dir / "p.h5", flash);
  EXPECT_EQ(list_producers(dir / "p.h5"), (std::vector<std::string>{"flash-lse", "sdpa"}));

  for (const ProducerOutputs* p : {&flash, &sdpa}) {
    const ProducerOutputs r = read_producer(dir / "p.h5", p->name, c);
    EXPECT_EQ(r.name, p->name);
    EXPECT_EQ(r.provenance, p->provenance);
    expect_same_outputs(p->outputs, r.outputs);
    EXPECT_EQ(read_producer_provenance(dir / "p.h5", p->name), p->provenance);
  }
  EXPECT_TRUE(std::isnan(read_producer(dir / "p.h5", "flash-lse", c).outputs.out.values[3]));
  // The inputs are untouched by adding producers.
  expect_same_inputs(c, read_case_inputs(dir / "p.h5"));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"p.h5"});
}

TEST(CaseFile, WriteProducerReplacesAnExistingProducer) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16, 1, 8, 2, 128, 64, 2);
  write_case(dir / "r.h5", c);
  const ProducerOutputs other{
      "other", {{"backend", "x"}}, random_outputs(c.config, DType::f32, DType::f32, DType::f32, 9)};
  write_producer(dir / "r.h5", other);

  ProducerOutputs p{"flash",
                    {{"backend", "flash"}, {"commit", "aaaa"}, {"stale", "yes"}},
                    random_outputs(c.config, DType::bf16, DType::f32, DType::bf16, 1)};
  write_producer(dir / "r.h5", p);
  const auto size_after_first = std::filesystem::file_size(dir / "r.h5");
  for (uint64_t seed = 2; seed < 6; ++seed) {
    p.provenance = {{"backend", "flash"}, {"commit", "bbbb" + std::to_string(seed)}};
    p.outputs = random_outputs(c.config, DType::bf16, DType::f32, DType::bf16, seed);
    write_producer(dir / "r.h5", p);
  }
  const ProducerOutputs r = read_producer(dir / "r.h5", "flash", c);
  EXPECT_EQ(r.provenance, p.provenance);  // old attributes ("stale") are gone
  expect_same_outputs(p.outputs, r.outputs);
  expect_same_outputs(other.outputs, read_producer(dir / "r.h5", "other", c).outputs);
  EXPECT_EQ(list_producers(dir / "r.h5"), (std::vector<std::string>{"flash", "other"}));
  // Replaced datasets' space is reused within the update: four replacements do not add four
  // copies of the producer.
  EXPECT_LT(std::filesystem::file_size(dir / "r.h5"), size_after_first * 3 / 2);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"r.h5"});
}

TEST(CaseFile, CachedReferenceIsReturnedOnlyForItsHash) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16);
  write_case(dir / "ref.h5", c);
  const std::string hash = input_hash(c);
  EXPECT_FALSE(read_cached_reference(dir / "ref.h5", hash, c).has_value());
  EXPECT_FALSE(read_cached_reference_info(dir / "ref.h5").has_value());

  ProducerOutputs ref{"reference",
                      {{"backend", "reference-fp64-structured"}, {"dtype", "f64"}},
                      random_outputs(c.config, DType::f64, DType::f64, DType::f64, 3)};
  write_cached_reference(dir / "ref.h5", ref, hash);
  const auto got = read_cached_reference(dir / "ref.h5", hash, c);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name, "reference");
  EXPECT_EQ(got->provenance, ref.provenance);  // input_hash is the key, not provenance
  expect_same_outputs(ref.outputs, got->outputs);
  EXPECT_FALSE(read_cached_reference(dir / "ref.h5", "0123456789abcdef", c).has_value());

  const auto info = read_cached_reference_info(dir / "ref.h5");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->input_hash, hash);
  EXPECT_EQ(info->provenance, ref.provenance);
  EXPECT_TRUE(list_producers(dir / "ref.h5").empty());  // the reference is not a producer

  // A new reference for other inputs replaces the old one.
  write_cached_reference(dir / "ref.h5", ref, "00000000000000ff");
  EXPECT_FALSE(read_cached_reference(dir / "ref.h5", hash, c).has_value());
  EXPECT_EQ(read_cached_reference_info(dir / "ref.h5")->input_hash, "00000000000000ff");

  // Rewriting the case drops everything recorded for the old inputs.
  write_producer(dir / "ref.h5", ProducerOutputs{"p", {}, ref.outputs});
  write_case(dir / "ref.h5", c);
  EXPECT_FALSE(read_cached_reference_info(dir / "ref.h5").has_value());
  EXPECT_TRUE(list_producers(dir / "ref.h5").empty());
}

// The hash is FNV-1a 64 over the documented serialization; recompute it here independently
// for a tiny case.
TEST(CaseFile, InputHashFollowsTheDocumentedSerialization) {
  CaseInputs c;
  c.config = CaseConfig{1, 1, 1, 1, 2, 0, DType::f32, 0.5};
  c.q = Tensor{DType::f32, {1, 1, 1, 2}, {1.0, -2.0}};
  c.k = {Tensor{DType::f32, {1, 1, 1, 2}, {0.5, 0.25}}};
  c.v = {Tensor{DType::f32, {1, 1, 1, 2}, {3.0, -0.0}}};
  c.valid_len = {1};
  c.grad_out = Tensor{DType::f32, {1, 1, 1, 2}, {1e-3f, 2e-3f}};
  validate_case(c, "test");

  std::vector<uint8_t> bytes;
  auto u64 = [&](uint64_t v) {
    for (int k = 0; k < 8; ++k) bytes.push_back(uint8_t(v >> (8 * k)));
  };
  for (int64_t v : {1, 1, 1, 1, 2, 0}) u64(uint64_t(v));
  for (char ch : std::string("f32")) bytes.push_back(uint8_t(ch));
  bytes.push_back(0);
  u64(bits_of(0.5));
  for (double x :
       {1.0, -2.0, 0.5, 0.25, 3.0, -0.0, 1.0 /* valid_len */, double(1e-3f), double(2e-3f)})
    u64(bits_of(x));
  uint64_t h = 14695981039346656037ULL;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 1099511628211ULL;
  }
  char expected[17];
  std::snprintf(expected, sizeof expected, "%016llx", static_cast<unsigned long long>(h));
  EXPECT_EQ(input_hash(c), expected);

  // Every part counts: one bit of grad_out, the sign of a zero, the dtype, valid_len.
  CaseInputs d = c;
  d.grad_out.values[1] = double(std::nextafter(float(d.grad_out.values[1]), 1.0f));  // one f32 ulp
  EXPECT_NE(input_hash(d), input_hash(c));
  d = c;
  d.v[0].values[1] = 0.0;
  EXPECT_NE(input_hash(d), input_hash(c));
  d = c;
  d.config.dtype = DType::f64;
  EXPECT_NE(input_hash(d), input_hash(c));
  d = c;
  d.valid_len = {0};
  EXPECT_NE(input_hash(d), input_hash(c));
  EXPECT_EQ(input_hash(c).size(), 16u);
}

// Files written by other tools: big-endian floats, valid_len as int32, the dtype attribute as
// a fixed-length string; HDF5 converts and the reader accepts them.
TEST(CaseFile, AcceptsOtherEncodingsOfTheSameValues) {
  TempDir dir;
  const CaseInputs c = random_case(DType::f32, 2, 2, 1, 8, 4, 0);
  write_case(dir / "e.h5", c);
  edit_file(dir / "e.h5", [&](hid_t f) {
    std::vector<float> q(c.q.values.begin(), c.q.values.end());
    replace_dataset(f, "/inputs/q", H5T_IEEE_F32BE, {2, 2, 8, 4}, H5T_NATIVE_FLOAT, q.data());
    const int32_t vl[2] = {8, 7};
    replace_dataset(f, "/inputs/valid_len", H5T_STD_I32BE, {2}, H5T_NATIVE_INT32, vl);
    H5Adelete(f, "dtype");
    const hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 8);
    H5Tset_strpad(st, H5T_STR_NULLPAD);
    const hid_t sp = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(f, "dtype", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    const char text[8] = {'f', 'l', 'o', 'a', 't', '3', '2', 0};
    H5Awrite(a, st, text);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(st);
  });
  const CaseInputs r = read_case_inputs(dir / "e.h5");
  expect_same_inputs(c, r);
}

}  // namespace
}  // namespace attn::data

// Cases on disk: what is written is read back bit for bit (inputs in every dtype, valid_len,
// generator parameters, producers with provenance, the cached reference) in folders and
// bundles; records are tied to their inputs by the hash; writes copy nothing that is there;
// the layout is what case_store.hpp documents.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>

#include "datasets/case_store.hpp"
#include "datasets/detail/xxhash64.hpp"
#include "datasets/errors.hpp"
#include "datasets/input_hash.hpp"
#include "datasets/tests/case_test_util.hpp"

namespace attn::data {
namespace {

using namespace attn::data::testing;
namespace fs = std::filesystem;

void expect_same_inputs(const CaseInputs& a, const CaseInputs& b) {
  EXPECT_EQ(a.config.B, b.config.B);
  EXPECT_EQ(a.config.H, b.config.H);
  EXPECT_EQ(a.config.Hkv, b.config.Hkv);
  EXPECT_EQ(a.config.L, b.config.L);
  EXPECT_EQ(a.config.D, b.config.D);
  EXPECT_EQ(a.config.t, b.config.t);
  EXPECT_EQ(a.config.dtype, b.config.dtype);
  EXPECT_EQ(bits_of(effective_scale(a.config)), bits_of(effective_scale(b.config)));
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
  for (int64_t i = 0; i < 4; ++i) c.q.set(i, extremes[i]);
  c.k[1].set(5, -0.0);
  c.valid_len = {16, 3};
  write_case(dir / "c", c);
  const CaseInputs r = read_case_inputs(dir / "c");
  expect_same_inputs(c, r);
  EXPECT_FALSE(r.generator.has_value());
  EXPECT_EQ(input_hash(r), input_hash(c));
  EXPECT_EQ(read_manifest(dir / "c").recorded_input_hash, input_hash(c));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"c"});
  EXPECT_EQ(fs::directory_iterator(dir / "c")->path().filename(), "inputs.h5");  // nothing else

  // The same in a bundle.
  write_bundle(dir / "c.h5", c, {}, nullptr);
  expect_same_inputs(c, read_case_inputs(dir / "c.h5"));
  EXPECT_EQ(read_manifest(dir / "c.h5").format, CaseFormat::bundle);
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
  p.rng = "counter-splitmix64-v2";
  c.generator = p;
  write_case(dir / "g", c);
  const CaseInputs r = read_case_inputs(dir / "g");
  ASSERT_TRUE(r.generator.has_value());
  EXPECT_EQ(r.generator->preset, p.preset);
  EXPECT_EQ(r.generator->seed, p.seed);
  EXPECT_EQ(r.generator->pad, p.pad);
  EXPECT_EQ(r.generator->rope_theta, p.rope_theta);
  EXPECT_EQ(r.generator->logit_std, p.logit_std);
  EXPECT_EQ(r.generator->outlier_channels, p.outlier_channels);
  EXPECT_EQ(r.generator->outlier_gain, p.outlier_gain);
  EXPECT_EQ(r.generator->grad_scale, p.grad_scale);
  EXPECT_EQ(r.generator->rng, p.rng);

  c.generator->pad.clear();  // an empty pad list is stored as a null dataspace
  write_case(dir / "g", c);
  EXPECT_TRUE(read_case_inputs(dir / "g").generator->pad.empty());
}

// Scale 0 means 1/sqrt(D): the writer stores that value, and the hash treats both alike.
TEST(CaseFile, ZeroScaleIsStoredAsOneOverSqrtD) {
  TempDir dir;
  CaseInputs c = random_case(DType::f32, 1, 2, 1, 8, 16, 0);
  c.config.scale = 0.0;
  write_case(dir / "s", c);
  const CaseInputs r = read_case_inputs(dir / "s");
  EXPECT_EQ(r.config.scale, 0.25);
  EXPECT_EQ(input_hash(r), input_hash(c));
}

// Attribute and element types as documented: schema_version int32, sizes int64, bf16 as a
// 2-byte float with bf16's fields; in a folder every dataset is contiguous and uncompressed
// (written and read at disk speed), in a bundle large ones are chunked and gzip-compressed.
TEST(CaseFile, LayoutTypesAndCompression) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16, 2, 4, 2, 64, 32, 1);
  write_case(dir / "l", c);
  write_bundle(dir / "l.h5", c, {}, nullptr);
  for (const fs::path& file : {dir / "l" / "inputs.h5", dir / "l.h5"}) {
    SCOPED_TRACE(file.string());
    const bool bundle = file.extension() == ".h5" && file.parent_path() == dir.path();
    const hid_t f = H5Fopen(file.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
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
    if (bundle) {
      EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED);
      hsize_t chunk[4] = {0, 0, 0, 0};
      EXPECT_EQ(H5Pget_chunk(dcpl, 4, chunk), 4);
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
    } else {
      EXPECT_EQ(H5Pget_layout(dcpl), H5D_CONTIGUOUS);
      EXPECT_EQ(H5Pget_nfilters(dcpl), 0);
    }
    H5Pclose(dcpl);
    H5Tclose(t);
    H5Dclose(q);
    H5Fclose(f);
  }
}

TEST(CaseFile, ProducersRoundTripWithProvenanceAndHash) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16);
  write_case(dir / "p", c);
  EXPECT_TRUE(read_manifest(dir / "p").producers.empty());

  ProducerOutputs flash = record_for(
      "flash-lse", c, random_outputs(c.config, DType::bf16, DType::f32, DType::bf16, 1),
      {{"backend", "flash-lse"}, {"device", "cuda:0"}, {"torch_version", "2.11.0"},
       {"time", "2025-01-01T00:00:00Z"}});
  flash.outputs.out = flash.outputs.out.clone();
  flash.outputs.out.set(3, NAN);  // a candidate's NaN or Inf must be recorded as it is
  flash.outputs.dq = flash.outputs.dq.clone();
  flash.outputs.dq.set(4, -INFINITY);
  const ProducerOutputs sdpa =
      record_for("sdpa", c, random_outputs(c.config, DType::f32, DType::f64, DType::f64, 2),
                 {{"backend", "sdpa"}, {"note", "ünïcode ✓"}, {"empty", ""}});
  write_producer(read_manifest(dir / "p"), sdpa);
  write_producer(read_manifest(dir / "p"), flash);
  const CaseManifest m = read_manifest(dir / "p");
  EXPECT_EQ(m.producer_names(), (std::vector<std::string>{"flash-lse", "sdpa"}));
  EXPECT_TRUE(fs::exists(dir / "p" / "outputs" / "flash-lse.h5"));

  for (const ProducerOutputs* p : std::vector<const ProducerOutputs*>{&flash, &sdpa}) {
    const RecordInfo* r = m.find_producer(p->name);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->provenance, p->provenance);
    EXPECT_EQ(r->input_hash, input_hash(c));
    EXPECT_EQ(record_state(*r, input_hash(c)), RecordState::current);
    EXPECT_EQ(r->tensors, output_tensor_names(c.config.t));
    expect_same_outputs(p->outputs, read_record(m, *r));
  }
  EXPECT_TRUE(std::isnan(read_record(m, *m.find_producer("flash-lse"), {"out"}).out.at(3)));
  expect_same_inputs(c, read_case_inputs(dir / "p"));

  // The same records in a bundle.
  write_bundle(dir / "p.h5", c, {sdpa, flash}, nullptr);
  const CaseManifest b = read_manifest(dir / "p.h5");
  EXPECT_EQ(b.producer_names(), (std::vector<std::string>{"flash-lse", "sdpa"}));
  for (const ProducerOutputs* p : std::vector<const ProducerOutputs*>{&flash, &sdpa}) {
    EXPECT_EQ(b.find_producer(p->name)->provenance, p->provenance);
    expect_same_outputs(p->outputs, read_record(b, *b.find_producer(p->name)));
  }
  expect_input_error([&] { write_producer(b, sdpa); }, {"single-file bundle", "unpack"});
}

// A producer may record a subset of the tensors (flex on the CPU records out alone).
TEST(CaseFile, ASubsetOfTensorsIsRecordedAndReadAsSuch) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16);
  write_case(dir / "s", c);
  AttentionOutputs o;
  o.out = random_outputs(c.config, DType::bf16, DType::f32, DType::bf16).out;
  write_producer(read_manifest(dir / "s"), record_for("flex", c, o));
  const CaseManifest m = read_manifest(dir / "s");
  EXPECT_EQ(m.find_producer("flex")->tensors, std::vector<std::string>{"out"});
  const AttentionOutputs r = read_record(m, *m.find_producer("flex"));
  EXPECT_TRUE(same_tensor(o.out, r.out));
  EXPECT_FALSE(r.lse.has_storage());
  EXPECT_TRUE(r.dk.empty());
}

// Writing a record adds one file and touches no other: the bytes of the inputs and of every
// other record are the same before and after.
TEST(CaseFile, AddingAProducerWritesOnlyThatProducer) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16, 1, 8, 2, 128, 64, 2);
  write_case(dir / "r", c);
  write_producer(read_manifest(dir / "r"),
                 record_for("other", c, random_outputs(c.config, DType::f32, DType::f32, DType::f32, 9)));
  const std::string inputs_before = file_bytes(dir / "r" / "inputs.h5");
  const std::string other_before = file_bytes(dir / "r" / "outputs" / "other.h5");
  ProducerOutputs p = record_for("flash", c, random_outputs(c.config, DType::bf16, DType::f32, DType::bf16, 1),
                                 {{"backend", "flash"}, {"stale", "yes"}});
  write_producer(read_manifest(dir / "r"), p);
  for (uint64_t seed = 2; seed < 4; ++seed) {
    p.provenance = {{"backend", "flash"}, {"commit", "bbbb" + std::to_string(seed)}};
    p.outputs = random_outputs(c.config, DType::bf16, DType::f32, DType::bf16, seed);
    write_producer(read_manifest(dir / "r"), p);
  }
  EXPECT_EQ(file_bytes(dir / "r" / "inputs.h5"), inputs_before);
  EXPECT_EQ(file_bytes(dir / "r" / "outputs" / "other.h5"), other_before);
  const CaseManifest m = read_manifest(dir / "r");
  EXPECT_EQ(m.find_producer("flash")->provenance, p.provenance);  // "stale" attribute gone
  expect_same_outputs(p.outputs, read_record(m, *m.find_producer("flash")));
  // Each record file holds its own tensors only (about numel * element size).
  EXPECT_LT(fs::file_size(dir / "r" / "outputs" / "flash.h5"),
            uint64_t(2 * (8 + 8) * 128 * 64 + 4 * 8 * 128 + 6 * 2 * 2 * 128 * 64 + 32768));
  std::vector<std::string> outputs;
  for (const auto& e : fs::directory_iterator(dir / "r" / "outputs"))
    outputs.push_back(e.path().filename().string());
  std::sort(outputs.begin(), outputs.end());
  EXPECT_EQ(outputs, (std::vector<std::string>{"flash.h5", "other.h5"}));  // no temporaries
}

// Records carry the hash of the inputs they were computed from: after the inputs change, the
// old records are stale; the same inputs written again keep them current.
TEST(CaseFile, RecordsAreTiedToTheirInputs) {
  TempDir dir;
  CaseInputs c = random_case(DType::bf16);
  write_case(dir / "t", c);
  write_reference(read_manifest(dir / "t"),
                  record_for("reference", c, random_outputs(c.config, DType::f64, DType::f64, DType::f64, 3),
                             {{"backend", "reference-fp64-structured"}}));
  write_producer(read_manifest(dir / "t"),
                 record_for("flash", c, random_outputs(c.config, DType::bf16, DType::f32, DType::bf16)));
  const std::string h = input_hash(c);
  CaseManifest m = read_manifest(dir / "t");
  ASSERT_TRUE(m.reference);
  EXPECT_EQ(record_state(*m.reference, h), RecordState::current);
  EXPECT_EQ(m.reference->provenance.at("backend"), "reference-fp64-structured");
  EXPECT_EQ(m.reference->provenance.count("input_hash"), 0u);

  write_case(dir / "t", c);  // the same inputs again
  m = read_manifest(dir / "t");
  EXPECT_EQ(record_state(*m.find_producer("flash"), input_hash(read_case_inputs(m))), RecordState::current);

  c.config.scale = 0.5;  // edited inputs
  write_case(dir / "t", c);
  m = read_manifest(dir / "t");
  const std::string h2 = input_hash(read_case_inputs(m));
  EXPECT_NE(h2, h);
  EXPECT_EQ(record_state(*m.find_producer("flash"), h2), RecordState::stale);
  EXPECT_EQ(record_state(*m.reference, h2), RecordState::stale);
}

// The hash follows its documented definition: XXH64 over a header and the per-tensor XXH64
// of the stored bytes. Recomputed here independently for a tiny case.
TEST(CaseFile, InputHashFollowsTheDocumentedSerialization) {
  EXPECT_EQ(detail::xxh64("", 0), 0xef46db3751d8e999ULL);  // published test vectors
  EXPECT_EQ(detail::xxh64("a", 1), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(detail::xxh64("abc", 3), 0x44bc2cf5ad770999ULL);
  std::string s;
  for (int i = 0; i < 5; ++i)
    for (int b = 0; b < 256; ++b) s.push_back(char(b));
  EXPECT_EQ(detail::xxh64(s.data(), s.size()), 0xafc184ad7938a354ULL);

  CaseInputs c;
  c.config = CaseConfig{1, 1, 1, 1, 2, 0, DType::f32, 0.5};
  c.q = Tensor::from_f64(DType::f32, {1, 1, 1, 2}, {1.0, -2.0});
  c.k = {Tensor::from_f64(DType::f32, {1, 1, 1, 2}, {0.5, 0.25})};
  c.v = {Tensor::from_f64(DType::f32, {1, 1, 1, 2}, {3.0, -0.0})};
  c.valid_len = {1};
  c.grad_out = Tensor::from_f64(DType::f32, {1, 1, 1, 2}, {double(1e-3f), double(2e-3f)});
  validate_case(c, "test");

  std::vector<uint8_t> bytes;
  auto u64 = [&](uint64_t v) {
    for (int k = 0; k < 8; ++k) bytes.push_back(uint8_t(v >> (8 * k)));
  };
  const std::string tag = "attn-harness inputs v2";
  bytes.insert(bytes.end(), tag.begin(), tag.end());
  bytes.push_back(0);
  for (int64_t v : {1, 1, 1, 1, 2, 0}) u64(uint64_t(v));
  for (char ch : std::string("f32")) bytes.push_back(uint8_t(ch));
  bytes.push_back(0);
  u64(bits_of(0.5));
  auto f32_digest = [](std::vector<float> v) { return detail::xxh64(v.data(), v.size() * 4); };
  u64(f32_digest({1.0f, -2.0f}));
  u64(f32_digest({0.5f, 0.25f}));
  u64(f32_digest({3.0f, -0.0f}));
  const int64_t one = 1;
  u64(detail::xxh64(&one, 8));
  u64(f32_digest({1e-3f, 2e-3f}));
  char expected[17];
  std::snprintf(expected, sizeof expected, "%016llx",
                static_cast<unsigned long long>(detail::xxh64(bytes.data(), bytes.size())));
  EXPECT_EQ(input_hash(c), expected);

  // Every part counts: one bit of grad_out, the sign of a zero, the dtype, valid_len, scale.
  CaseInputs d = c;
  d.grad_out = c.grad_out.clone();
  d.grad_out.set(1, double(std::nextafter(2e-3f, 1.0f)));  // one f32 ulp
  EXPECT_NE(input_hash(d), input_hash(c));
  d = c;
  d.v[0] = c.v[0].clone();
  d.v[0].set(1, 0.0);
  EXPECT_NE(input_hash(d), input_hash(c));
  d = c;
  d.config.dtype = DType::f64;
  EXPECT_NE(input_hash(d), input_hash(c));
  d = c;
  d.valid_len = {0};
  EXPECT_NE(input_hash(d), input_hash(c));
  d = c;
  d.config.scale = 0.25;
  EXPECT_NE(input_hash(d), input_hash(c));
  EXPECT_EQ(input_hash(c).size(), 16u);
}

// Files written by other tools: big-endian floats, valid_len as int32, the dtype attribute as
// a fixed-length string; HDF5 converts and the reader accepts them.
TEST(CaseFile, AcceptsOtherEncodingsOfTheSameValues) {
  TempDir dir;
  const CaseInputs c = random_case(DType::f32, 2, 2, 1, 8, 4, 0);
  write_case(dir / "e", c);
  edit_file(dir / "e" / "inputs.h5", [&](hid_t f) {
    std::vector<float> q(c.q.data<float>(), c.q.data<float>() + c.q.numel());
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
  const CaseInputs r = read_case_inputs(dir / "e");
  expect_same_inputs(c, r);
}

// inspect reads the rows it shows: read_record_rows returns exactly those values.
TEST(CaseFile, RowsAreReadAlone) {
  TempDir dir;
  const CaseInputs c = random_case(DType::bf16, 2, 4, 2, 16, 8, 2);
  write_case(dir / "rows", c);
  const AttentionOutputs o = random_outputs(c.config, DType::bf16, DType::f32, DType::bf16);
  write_producer(read_manifest(dir / "rows"), record_for("p", c, o));
  const CaseManifest m = read_manifest(dir / "rows");
  const RecordInfo& r = *m.find_producer("p");
  const Tensor dq = read_record_rows(m, r, "dq", 1, 3, 5, 2);
  EXPECT_EQ(dq.shape, (std::vector<int64_t>{2, 8}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t d = 0; d < 8; ++d)
      EXPECT_EQ(bits_of(dq.at(i * 8 + d)), bits_of(o.dq.at(((1 * 4 + 3) * 16 + 5 + i) * 8 + d)));
  const Tensor lse = read_record_rows(m, r, "lse", 0, 2, 15, 1);
  EXPECT_EQ(lse.shape, std::vector<int64_t>{1});
  EXPECT_EQ(bits_of(lse.at(0)), bits_of(o.lse.at((0 * 4 + 2) * 16 + 15)));
  const Tensor dk = read_record_rows(m, r, "dk2", 1, 1, 0, 1);
  EXPECT_EQ(bits_of(dk.at(7)), bits_of(o.dk[2].at(((1 * 2 + 1) * 16 + 0) * 8 + 7)));
  expect_input_error([&] { read_record_rows(m, r, "dq", 1, 4, 0, 1); }, {"outside its shape"});
  expect_input_error([&] { read_record_rows(m, r, "dq", 0, 0, 15, 2); }, {"outside its shape"});
}

}  // namespace
}  // namespace attn::data

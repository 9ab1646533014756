// attn-case-fixture-writer: the C++ side of the Python interoperability checks
// (h5py_reads_bf16.py).
//
//   attn-case-fixture-writer write CASE     a bf16 case folder whose q holds known values
//                                           (kQValues, mirrored in the Python script), one
//                                           producer "fixture" and a generator group
//   attn-case-fixture-writer dump CASE      reads a case folder or bundle (written by anyone)
//                                           and prints its config, inputs, input hash and
//                                           producers (with their state) as text
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>

#include "datasets/case_store.hpp"
#include "datasets/errors.hpp"
#include "datasets/input_hash.hpp"

namespace {

using namespace attn::data;

// bf16 values that exercise the format: ordinary, pi's bf16, 2^-100, the largest finite
// (0x7F7F), the smallest and largest subnormals (0x0001, 0x007F), -0, the smallest normal,
// 65280, -1/3 rounded, all mantissa bits set.
const double kQValues[12] = {1.0,
                             -2.5,
                             3.140625,
                             std::ldexp(1.0, -100),
                             std::ldexp(255.0, 120),
                             std::ldexp(1.0, -133),
                             std::ldexp(127.0, -133),
                             -0.0,
                             std::ldexp(1.0, -126),
                             65280.0,
                             -0.333984375,
                             1.9921875};

Tensor ramp(DType d, std::vector<int64_t> shape, double start, double step) {
  Tensor t = Tensor::zeros(d, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, round_to(d, start + step * double(i)));
  return t;
}

int write_fixture(const std::string& path) {
  CaseInputs c;
  c.config = CaseConfig{1, 1, 1, 3, 4, 0, DType::bf16, 0.5};
  c.q = Tensor::from_f64(DType::bf16, {1, 1, 3, 4}, std::vector<double>(kQValues, kQValues + 12));
  c.k = {ramp(DType::bf16, {1, 1, 3, 4}, -1.0, 0.25)};
  c.v = {ramp(DType::bf16, {1, 1, 3, 4}, 2.0, -0.5)};
  c.valid_len = {3};
  c.grad_out = ramp(DType::bf16, {1, 1, 3, 4}, 0.001, 0.001);
  GeneratorParams g;
  g.preset = "fixture";
  g.seed = 7;
  g.pad = {0};
  c.generator = g;
  write_case(path, c);

  ProducerOutputs p;
  p.name = "fixture";
  p.provenance = {{"backend", "fixture"}, {"device", "cpu"}};
  p.input_hash = input_hash(c);
  p.outputs.out = Tensor::from_f64(DType::bf16, {1, 1, 3, 4}, std::vector<double>(kQValues, kQValues + 12));
  p.outputs.lse = Tensor::from_f64(DType::f32, {1, 1, 3}, {0.5, -1.25, 3.0});
  p.outputs.dq = ramp(DType::f64, {1, 1, 3, 4}, 0.1, 0.1);
  p.outputs.dk = {ramp(DType::bf16, {1, 1, 3, 4}, 0.0, 1.0)};
  p.outputs.dv = {ramp(DType::f32, {1, 1, 3, 4}, 0.0, -1.0)};
  write_producer(read_manifest(path), p);
  return 0;
}

void print_values(const std::string& label, const Tensor& t) {
  std::printf("%s %s %s", label.c_str(), to_string(t.dtype).c_str(), shape_string(t.shape).c_str());
  for (double x : t.to_f64()) std::printf(" %.17g", x);
  std::printf("\n");
}

int dump(const std::string& path) {
  const CaseManifest m = read_manifest(path);
  const CaseInputs c = read_case_inputs(m);
  const CaseConfig& k = c.config;
  std::printf("config B=%lld H=%lld Hkv=%lld L=%lld D=%lld t=%lld dtype=%s scale=%.17g\n",
              (long long)k.B, (long long)k.H, (long long)k.Hkv, (long long)k.L, (long long)k.D,
              (long long)k.t, to_string(k.dtype).c_str(), k.scale);
  print_values("q", c.q);
  for (size_t m = 0; m < c.k.size(); ++m) print_values("k" + std::to_string(m), c.k[m]);
  for (size_t m = 0; m < c.v.size(); ++m) print_values("v" + std::to_string(m), c.v[m]);
  std::printf("valid_len");
  for (int64_t n : c.valid_len) std::printf(" %lld", (long long)n);
  std::printf("\n");
  print_values("grad_out", c.grad_out);
  const std::string hash = input_hash(c);
  std::printf("hash %s\n", hash.c_str());
  for (const RecordInfo& r : m.producers) {
    std::printf("state %s %s\n", r.name.c_str(), to_string(record_state(r, hash)).c_str());
    if (!r.damage.empty()) continue;
    for (const auto& [key, value] : r.provenance)
      std::printf("provenance %s %s=%s\n", r.name.c_str(), key.c_str(), value.c_str());
    const AttentionOutputs o = read_record(m, r);
    print_values(r.name + ".out", o.out);
    if (o.lse.has_storage()) print_values(r.name + ".lse", o.lse);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "write" && std::string(argv[1]) != "dump")) {
    std::fprintf(stderr, "usage: %s write CASE | dump CASE\n", argv[0]);
    return 2;
  }
  try {
    return std::string(argv[1]) == "write" ? write_fixture(argv[2]) : dump(argv[2]);
  } catch (const InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 3;
  }
}

#include "datasets/input_hash.hpp"

#include <cstdio>
#include <cstring>
#include <vector>

#include "datasets/detail/xxhash64.hpp"

namespace attn::data {
namespace {

void put_u64(std::vector<unsigned char>& out, uint64_t v) {
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<unsigned char>(v >> (8 * k)));
}

}  // namespace

std::string input_hash(const CaseInputs& in) {
  const CaseConfig& c = in.config;
  std::vector<unsigned char> bytes;
  const char* tag = "attn-harness inputs v2";
  bytes.insert(bytes.end(), tag, tag + std::strlen(tag) + 1);
  for (int64_t v : {c.B, c.H, c.Hkv, c.L, c.D, c.t}) put_u64(bytes, static_cast<uint64_t>(v));
  const std::string dtype = to_string(c.dtype);
  bytes.insert(bytes.end(), dtype.begin(), dtype.end());
  bytes.push_back(0);
  const double scale = effective_scale(c);
  uint64_t scale_bits;
  std::memcpy(&scale_bits, &scale, sizeof scale_bits);
  put_u64(bytes, scale_bits);

  // The tensors in canonical order; valid_len sits between the v blocks and grad_out.
  std::vector<const Tensor*> tensors{&in.q};
  for (const Tensor& k : in.k) tensors.push_back(&k);
  for (const Tensor& v : in.v) tensors.push_back(&v);
  tensors.push_back(nullptr);
  tensors.push_back(&in.grad_out);

  std::vector<uint64_t> digests(tensors.size());
  const int64_t n = int64_t(tensors.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) {
    const Tensor* t = tensors[size_t(i)];
    digests[size_t(i)] =
        t ? detail::xxh64(t->raw(), t->has_storage() ? t->nbytes() : 0)
          : detail::xxh64(in.valid_len.data(), in.valid_len.size() * sizeof(int64_t));
  }
  for (uint64_t d : digests) put_u64(bytes, d);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(detail::xxh64(bytes.data(), bytes.size())));
  return buf;
}

}  // namespace attn::data

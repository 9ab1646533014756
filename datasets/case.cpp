#include "datasets/case.hpp"

#include <cmath>

namespace attn::data {

double effective_scale(const CaseConfig& c) {
  return c.scale == 0.0 ? 1.0 / std::sqrt(double(c.D)) : c.scale;
}

std::vector<std::string> output_tensor_names(int64_t t) {
  std::vector<std::string> names{"out", "lse", "dq"};
  for (int64_t m = 0; m <= t; ++m) names.push_back("dk" + std::to_string(m));
  for (int64_t m = 0; m <= t; ++m) names.push_back("dv" + std::to_string(m));
  return names;
}

namespace {

/// m of "dk<m>" / "dv<m>" (no leading zeros); -1 otherwise.
int64_t block_of(const std::string& name, const char* prefix) {
  if (name.size() < 3 || name.compare(0, 2, prefix) != 0) return -1;
  const std::string digits = name.substr(2);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  if ((digits.size() > 1 && digits[0] == '0') || digits.size() > 9) return -1;
  return std::stoll(digits);
}

template <typename Outputs>
auto find_in(Outputs& o, const std::string& name) -> decltype(&o.out) {
  decltype(&o.out) t = nullptr;
  if (name == "out") t = &o.out;
  else if (name == "lse") t = &o.lse;
  else if (name == "dq") t = &o.dq;
  else if (const int64_t m = block_of(name, "dk"); m >= 0 && m < int64_t(o.dk.size())) t = &o.dk[size_t(m)];
  else if (const int64_t m2 = block_of(name, "dv"); m2 >= 0 && m2 < int64_t(o.dv.size())) t = &o.dv[size_t(m2)];
  return t && t->has_storage() ? t : nullptr;
}

}  // namespace

std::vector<int64_t> output_shape(const std::string& name, const CaseConfig& c) {
  if (name == "out" || name == "dq") return {c.B, c.H, c.L, c.D};
  if (name == "lse") return {c.B, c.H, c.L};
  for (const char* prefix : {"dk", "dv"}) {
    const int64_t m = block_of(name, prefix);
    if (m >= 0 && m <= c.t) return {c.B, c.Hkv, c.L, c.D};
  }
  return {};
}

const Tensor* find_output(const AttentionOutputs& o, const std::string& name) {
  return find_in(o, name);
}

Tensor* find_output(AttentionOutputs& o, const std::string& name) { return find_in(o, name); }

std::vector<std::string> recorded_tensors(const AttentionOutputs& o) {
  std::vector<std::string> names;
  for (const char* n : {"out", "lse", "dq"})
    if (find_output(o, n)) names.push_back(n);
  for (size_t m = 0; m < o.dk.size(); ++m)
    if (o.dk[m].has_storage()) names.push_back("dk" + std::to_string(m));
  for (size_t m = 0; m < o.dv.size(); ++m)
    if (o.dv[m].has_storage()) names.push_back("dv" + std::to_string(m));
  return names;
}

}  // namespace attn::data

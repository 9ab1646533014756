// Synthetic comparison inputs for the reports tests: a case config, an fp64 "reference" with
// deterministic values on valid rows (0 on invalid rows), and producers derived from it.
// The comparison engine never looks at q/k/v, so no attention is computed here.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "datasets/case.hpp"
#include "reports/accuracy/output_tensors.hpp"

namespace attn::report::test {

struct Synthetic {
  data::CaseInputs inputs;         ///< config and valid_len only (tensors left empty)
  data::ProducerOutputs reference; ///< fp64
};

/// B=2, H=4, Hkv=2, L=16, D=8, t=2, valid_len {16, 11} (valid rows 14, 9) by default.
Synthetic make_synthetic(std::vector<int64_t> valid_len = {16, 11}, int64_t t = 2);

/// The reference rounded to `dtype` (lse to f32), under `name`, declaring `invalid_rows`
/// ("" leaves the attribute out).
data::ProducerOutputs rounded_producer(const data::ProducerOutputs& reference, const std::string& name,
                                       data::DType dtype = data::DType::bf16,
                                       const std::string& invalid_rows = "zeros");

/// Mutable tensor `id` of a producer.
data::Tensor& tensor_of(data::ProducerOutputs& p, const TensorId& id);

/// A deep copy (tensors cloned): tensors are shared between copies otherwise.
data::ProducerOutputs clone_producer(const data::ProducerOutputs& p);

/// Element i of t set to v rounded into t's dtype (NaN and inf as they are), so a test's
/// edit of a bf16 tensor stays a bf16 value.
void set_value(data::Tensor& t, size_t i, double v);
inline void add_value(data::Tensor& t, size_t i, double dv) { set_value(t, i, t.at(int64_t(i)) + dv); }
inline double value(const data::Tensor& t, size_t i) { return t.at(int64_t(i)); }
/// Every element x of t replaced by f(x) (rounded into t's dtype).
void transform_values(data::Tensor& t, const std::function<double(double)>& f);

/// Flat index of (b, x, i, d) in a [B, X, L, D] (or [B, X, L] with d = 0) tensor.
size_t flat_index(const data::Tensor& t, int64_t b, int64_t x, int64_t i, int64_t d = 0);

/// A very small XML check: every tag closes in order, attributes are quoted, no bare '&' or
/// '<' in text. Returns "" when well formed, else what is wrong.
std::string xml_problem(const std::string& xml);

}  // namespace attn::report::test

// The judged output tensors of a case and their names: out, lse, dq, dk0..dk<t>, dv0..dv<t>.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/case.hpp"

namespace attn::report {

enum class TensorKind { out, lse, dq, dk, dv };

struct TensorId {
  TensorKind kind = TensorKind::out;
  int64_t block = -1;  ///< cache block m for dk/dv, -1 otherwise

  std::string name() const;       ///< "out", "lse", "dq", "dk0", "dv3"
  std::string kind_name() const;  ///< "out", "lse", "dq", "dk", "dv"
  bool is_gradient() const { return kind == TensorKind::dq || kind == TensorKind::dk || kind == TensorKind::dv; }
  /// Whether dimension 1 indexes kv heads (dk, dv) rather than query heads.
  bool per_kv_head() const { return kind == TensorKind::dk || kind == TensorKind::dv; }
  bool operator==(const TensorId& o) const { return kind == o.kind && block == o.block; }
};

/// out, lse, dq, dk0..dk<t>, dv0..dv<t>, in this order.
std::vector<TensorId> output_tensor_ids(int64_t t);

/// Parses "out", "lse", "dq", "dk<m>", "dv<m>"; nullopt otherwise (no range check on m).
std::optional<TensorId> parse_tensor_name(const std::string& name);

/// The tensor `id` of `o`; throws InputError when it was not recorded.
const data::Tensor& select_tensor(const data::AttentionOutputs& o, const TensorId& id,
                                  const std::string& producer);
/// The tensor `id` of `o`, or nullptr when it was not recorded.
const data::Tensor* find_tensor(const data::AttentionOutputs& o, const TensorId& id);

/// The shape `id` must have in a case of config `c`.
std::vector<int64_t> expected_shape(const TensorId& id, const data::CaseConfig& c);

/// Valid rows per batch element: max(0, valid_len[b] - t). A row (query row for out, lse, dq;
/// key row for dk_m, dv_m) is judged iff its index is below this.
std::vector<int64_t> valid_rows(const std::vector<int64_t>& valid_len, int64_t t);

}  // namespace attn::report

#include "reports/accuracy/output_tensors.hpp"

#include <algorithm>
#include <cctype>

#include "datasets/errors.hpp"

namespace attn::report {

std::string TensorId::kind_name() const {
  switch (kind) {
    case TensorKind::out: return "out";
    case TensorKind::lse: return "lse";
    case TensorKind::dq: return "dq";
    case TensorKind::dk: return "dk";
    case TensorKind::dv: return "dv";
  }
  return "?";
}

std::string TensorId::name() const {
  return per_kv_head() ? kind_name() + std::to_string(block) : kind_name();
}

std::vector<TensorId> output_tensor_ids(int64_t t) {
  std::vector<TensorId> ids = {{TensorKind::out, -1}, {TensorKind::lse, -1}, {TensorKind::dq, -1}};
  for (int64_t m = 0; m <= t; ++m) ids.push_back({TensorKind::dk, m});
  for (int64_t m = 0; m <= t; ++m) ids.push_back({TensorKind::dv, m});
  return ids;
}

std::optional<TensorId> parse_tensor_name(const std::string& name) {
  if (name == "out") return TensorId{TensorKind::out, -1};
  if (name == "lse") return TensorId{TensorKind::lse, -1};
  if (name == "dq") return TensorId{TensorKind::dq, -1};
  if (name.size() < 3 || name.size() > 8 || name[0] != 'd' || (name[1] != 'k' && name[1] != 'v'))
    return std::nullopt;
  const std::string digits = name.substr(2);
  if (!std::all_of(digits.begin(), digits.end(), [](unsigned char ch) { return std::isdigit(ch); }))
    return std::nullopt;
  return TensorId{name[1] == 'k' ? TensorKind::dk : TensorKind::dv, std::stoll(digits)};
}

const data::Tensor& select_tensor(const data::AttentionOutputs& o, const TensorId& id,
                                  const std::string& producer) {
  const auto recorded = [&](const data::Tensor& t) -> const data::Tensor& {
    if (!t.has_storage()) throw data::InputError(producer + ": did not record " + id.name());
    return t;
  };
  switch (id.kind) {
    case TensorKind::out: return recorded(o.out);
    case TensorKind::lse: return recorded(o.lse);
    case TensorKind::dq: return recorded(o.dq);
    case TensorKind::dk:
    case TensorKind::dv: {
      const auto& blocks = id.kind == TensorKind::dk ? o.dk : o.dv;
      if (id.block < 0 || id.block >= int64_t(blocks.size()))
        throw data::InputError(producer + ": has no tensor " + id.name() + " (it holds " +
                               std::to_string(blocks.size()) + " " + id.kind_name() + " blocks)");
      if (!blocks[size_t(id.block)].has_storage())
        throw data::InputError(producer + ": did not record " + id.name());
      return blocks[size_t(id.block)];
    }
  }
  return o.out;
}

const data::Tensor* find_tensor(const data::AttentionOutputs& o, const TensorId& id) {
  return data::find_output(o, id.name());
}

std::vector<int64_t> expected_shape(const TensorId& id, const data::CaseConfig& c) {
  switch (id.kind) {
    case TensorKind::lse: return {c.B, c.H, c.L};
    case TensorKind::out:
    case TensorKind::dq: return {c.B, c.H, c.L, c.D};
    default: return {c.B, c.Hkv, c.L, c.D};
  }
}

std::vector<int64_t> valid_rows(const std::vector<int64_t>& valid_len, int64_t t) {
  std::vector<int64_t> rows;
  for (int64_t v : valid_len) rows.push_back(std::max<int64_t>(0, v - t));
  return rows;
}

}  // namespace attn::report

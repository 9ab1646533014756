#include "reports/accuracy/tests/synthetic_case.hpp"

#include <cmath>
#include <functional>

namespace attn::report::test {

Synthetic make_synthetic(std::vector<int64_t> valid_len, int64_t t) {
  Synthetic s;
  data::CaseConfig& c = s.inputs.config;
  c.B = int64_t(valid_len.size());
  c.H = 4;
  c.Hkv = 2;
  c.L = 16;
  c.D = 8;
  c.t = t;
  c.dtype = data::DType::bf16;
  c.scale = 1.0 / std::sqrt(8.0);
  s.inputs.valid_len = valid_len;
  s.reference.name = "reference";
  s.reference.provenance = {{"backend", "synthetic-fp64"}};
  const std::vector<int64_t> rows = valid_rows(valid_len, t);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  const auto next = [&] {  // splitmix64 -> [-1, 1)
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return double(z >> 11) / double(1ull << 52) - 1.0;
  };
  for (const TensorId& id : output_tensor_ids(t)) {
    data::Tensor x = data::Tensor::zeros(data::DType::f64, expected_shape(id, c));
    const int64_t B = x.shape[0], X = x.shape[1], L = x.shape[2];
    const int64_t D = x.shape.size() == 4 ? x.shape[3] : 1;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < X; ++h)
        for (int64_t i = 0; i < rows[size_t(b)]; ++i)
          for (int64_t d = 0; d < D; ++d)
            x.set(((b * X + h) * L + i) * D + d,
                  id.kind == TensorKind::lse ? 3.0 + next() : 0.5 * next());
    switch (id.kind) {
      case TensorKind::out: s.reference.outputs.out = x; break;
      case TensorKind::lse: s.reference.outputs.lse = x; break;
      case TensorKind::dq: s.reference.outputs.dq = x; break;
      case TensorKind::dk: s.reference.outputs.dk.push_back(x); break;
      case TensorKind::dv: s.reference.outputs.dv.push_back(x); break;
    }
  }
  return s;
}

data::Tensor& tensor_of(data::ProducerOutputs& p, const TensorId& id) {
  return const_cast<data::Tensor&>(select_tensor(p.outputs, id, p.name));
}

data::ProducerOutputs clone_producer(const data::ProducerOutputs& p) {
  data::ProducerOutputs c = p;
  for (data::Tensor* t : {&c.outputs.out, &c.outputs.lse, &c.outputs.dq})
    if (t->has_storage()) *t = t->clone();
  for (auto* blocks : {&c.outputs.dk, &c.outputs.dv})
    for (data::Tensor& t : *blocks)
      if (t.has_storage()) t = t.clone();
  return c;
}

void set_value(data::Tensor& t, size_t i, double v) { t.set(int64_t(i), data::round_to(t.dtype, v)); }

void transform_values(data::Tensor& t, const std::function<double(double)>& f) {
  for (int64_t i = 0; i < t.numel(); ++i) set_value(t, size_t(i), f(t.at(i)));
}

data::ProducerOutputs rounded_producer(const data::ProducerOutputs& reference, const std::string& name,
                                       data::DType dtype, const std::string& invalid_rows) {
  data::ProducerOutputs p = reference;
  p.name = name;
  p.provenance = {{"backend", name}};
  if (!invalid_rows.empty()) p.provenance["invalid_rows"] = invalid_rows;
  const int64_t t = int64_t(reference.outputs.dk.size()) - 1;
  for (const TensorId& id : output_tensor_ids(t)) {
    data::Tensor& x = tensor_of(p, id);
    const data::DType d = id.kind == TensorKind::lse && dtype == data::DType::bf16 ? data::DType::f32 : dtype;
    std::vector<double> v = x.to_f64();
    for (double& e : v) e = data::round_to(d, e);
    x = data::Tensor::from_f64(d, x.shape, std::move(v));
  }
  return p;
}

size_t flat_index(const data::Tensor& t, int64_t b, int64_t x, int64_t i, int64_t d) {
  const int64_t X = t.shape[1], L = t.shape[2];
  const int64_t D = t.shape.size() == 4 ? t.shape[3] : 1;
  return size_t(((b * X + x) * L + i) * D + d);
}

std::string xml_problem(const std::string& xml) {
  std::vector<std::string> open;
  size_t p = 0;
  if (xml.rfind("<?xml", 0) == 0) p = xml.find("?>") + 2;
  while (p < xml.size()) {
    const size_t lt = xml.find('<', p);
    const std::string text = xml.substr(p, lt == std::string::npos ? std::string::npos : lt - p);
    for (size_t a = text.find('&'); a != std::string::npos; a = text.find('&', a + 1))
      if (text.find(';', a) == std::string::npos) return "bare '&' in text";
    if (text.find('>') != std::string::npos) return "bare '>' in text";
    if (lt == std::string::npos) break;
    const size_t gt = xml.find('>', lt);
    if (gt == std::string::npos) return "unterminated tag";
    std::string tag = xml.substr(lt + 1, gt - lt - 1);
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    size_t quotes = 0;
    for (char ch : tag) quotes += ch == '"';
    if (quotes % 2) return "unbalanced quotes in tag: " + tag;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) return "closing </" + name + "> does not match";
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
    }
    p = gt + 1;
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  return "";
}

}  // namespace attn::report::test

#include "harness/reference_rows.hpp"

#include "harness/reference_cache.hpp"

namespace attn::cli {

ReferenceRows reference_rows(const data::CaseManifest& m, const data::CaseInputs& in,
                             const std::string& hash, const std::string& tensor, int64_t b,
                             int64_t x, int64_t row, bool quiet) {
  ReferenceRows r;
  const bool query_row = tensor == "out" || tensor == "lse" || tensor == "dq";
  if (m.reference && data::record_state(*m.reference, hash) == data::RecordState::current) {
    r.source = "cached";
    r.value = data::read_record_rows(m, *m.reference, tensor, b, x, row, 1);
    if (query_row) r.lse = data::read_record_rows(m, *m.reference, "lse", b, x, row, 1).at(0);
    return r;
  }
  ReferenceOptions opt;
  opt.quiet = quiet;
  const ReferenceResult full = ensure_reference(m, in, hash, opt);
  r.source = full.cached ? "computed and cached" : "computed";
  const data::Tensor* t = data::find_output(full.reference.outputs, tensor);
  const data::CaseConfig& c = m.config;
  const int64_t X = t->shape[1], D = t->shape.size() == 4 ? t->shape[3] : 1;
  std::vector<double> values(static_cast<size_t>(D));
  t->read_f64(((b * X + x) * c.L + row) * D, D, values.data());
  r.value = data::Tensor::from_f64(data::DType::f64, t->shape.size() == 4 ? std::vector<int64_t>{D}
                                                                          : std::vector<int64_t>{1},
                                   std::move(values));
  if (query_row) r.lse = full.reference.outputs.lse.at((b * c.H + x) * c.L + row);
  return r;
}

}  // namespace attn::cli

#include "reports/invalid_rows_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "datasets/errors.hpp"
#include "reports/output_tensors.hpp"

namespace attn::report {

InvalidRowsCheck check_invalid_rows(const data::ProducerOutputs& p,
                                    const std::vector<int64_t>& valid_rows, int64_t t) {
  InvalidRowsCheck c;
  if (auto it = p.provenance.find("invalid_rows"); it != p.provenance.end()) {
    c.declared_explicitly = true;
    c.declared = it->second;
    if (c.declared != "zeros" && c.declared != "unspecified")
      throw data::InputError("producer " + p.name + ": attribute invalid_rows must be \"zeros\" or "
                             "\"unspecified\", found \"" + c.declared + "\"");
  }
  if (c.declared != "zeros") return c;
  c.checked = true;
  for (const TensorId& id : output_tensor_ids(t)) {
    const data::Tensor* xp = find_tensor(p.outputs, id);
    if (!xp) continue;  // not recorded
    const data::Tensor& x = *xp;
    InvalidRowsTensor r;
    r.name = id.name();
    if (x.shape.size() < 3) {
      c.tensors.push_back(r);
      continue;
    }
    const int64_t B = x.shape[0], X = x.shape[1], L = x.shape[2];
    const int64_t D = x.shape.size() == 4 ? x.shape[3] : 1;
    std::vector<double> row;
    for (int64_t b = 0; b < B && b < int64_t(valid_rows.size()); ++b)
      for (int64_t h = 0; h < X; ++h) {
        const int64_t first_row = std::min(L, std::max<int64_t>(0, valid_rows[size_t(b)]));
        const int64_t n = (L - first_row) * D;
        row.resize(size_t(n));
        if (n > 0) x.read_f64(((b * X + h) * L + first_row) * D, n, row.data());
        for (int64_t e = 0; e < n; ++e) {
            const double v = row[size_t(e)];
            ++r.elements;
            if (v != 0.0) {
              ++r.violations;
              r.max_abs = std::isnan(v) || std::isnan(r.max_abs)
                              ? std::numeric_limits<double>::quiet_NaN()
                              : std::max(r.max_abs, std::fabs(v));
            }
        }
      }
    if (r.violations) c.passed = false;
    c.tensors.push_back(r);
  }
  return c;
}

}  // namespace attn::report

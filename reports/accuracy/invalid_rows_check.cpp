#include "reports/accuracy/invalid_rows_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "datasets/errors.hpp"
#include "reports/accuracy/output_tensors.hpp"

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
    double worst = -1;
    for (int64_t b = 0; b < B && b < int64_t(valid_rows.size()); ++b) {
      // Rows of this batch element holding a violation in any head: [lo, hi] and which heads.
      int64_t lo = -1, hi = -1, hlo = -1, hhi = -1;
      std::vector<bool> bad_row(static_cast<size_t>(L), false);
      for (int64_t h = 0; h < X; ++h) {
        const int64_t first_row = std::min(L, std::max<int64_t>(0, valid_rows[size_t(b)]));
        const int64_t n = (L - first_row) * D;
        row.resize(size_t(n));
        if (n > 0) x.read_f64(((b * X + h) * L + first_row) * D, n, row.data());
        for (int64_t e = 0; e < n; ++e) {
          const double v = row[size_t(e)];
          ++r.elements;
          if (v == 0.0) continue;
          ++r.violations;
          const int64_t i = first_row + e / D;
          if (!bad_row[size_t(i)]) {
            bad_row[size_t(i)] = true;
            lo = lo < 0 ? i : std::min(lo, i);
            hi = std::max(hi, i);
          }
          hlo = hlo < 0 ? h : std::min(hlo, h);
          hhi = std::max(hhi, h);
          const double a = std::isnan(v) ? std::numeric_limits<double>::infinity() : std::fabs(v);
          if (a > worst) {
            worst = a;
            r.worst_at = "b=" + std::to_string(b) + (x.shape.size() == 4 && id.per_kv_head() ? " kvh=" : " h=") +
                         std::to_string(h) + " i=" + std::to_string(i) +
                         (D > 1 ? " d=" + std::to_string(e % D) : "");
          }
          r.max_abs = std::isnan(v) || std::isnan(r.max_abs)
                          ? std::numeric_limits<double>::quiet_NaN()
                          : std::max(r.max_abs, std::fabs(v));
        }
      }
      if (lo >= 0) {
        int64_t count_rows = 0;
        for (bool v : bad_row) count_rows += v;
        r.rows += count_rows;
        if (r.rows_text.size() < 200)
          r.rows_text += (r.rows_text.empty() ? "" : "; ") + std::string("b=") + std::to_string(b) +
                         " rows " + std::to_string(lo) + "-" + std::to_string(hi) + " (" +
                         std::to_string(count_rows) + " rows, " +
                         (id.per_kv_head() ? "kv heads " : "heads ") + std::to_string(hlo) + "-" +
                         std::to_string(hhi) + ")";
      }
    }
    if (r.violations) c.passed = false;
    c.tensors.push_back(r);
  }
  return c;
}

}  // namespace attn::report

#include "reports/tensor_comparison.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

#include "datasets/errors.hpp"

namespace attn::report {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Accumulates ErrorStats over elements whose reference is finite.
class StatsAccumulator {
 public:
  StatsAccumulator(data::DType dtype, double relative_floor) : rel_floor_(relative_floor) {
    s_.dtype = dtype;
  }

  // Returns |value - reference| (+inf when value is not finite).
  double add(double ref, double value) {
    ++s_.elements;
    if (!std::isfinite(value)) {
      (std::isnan(value) ? s_.nan : s_.inf) += 1;
      s_.max_abs = s_.max_rel = kInf;
      s_.histogram.add(kInf);
      ++s_.assert_close_mismatches;
      return kInf;
    }
    const double err = std::fabs(value - ref);
    const double rel = err / std::max(std::fabs(ref), rel_floor_);
    ++finite_;
    sum_abs_ += err;
    sum_rel_ += rel;
    s_.max_abs = std::max(s_.max_abs, err);
    s_.max_rel = std::max(s_.max_rel, rel);
    ulp_.add(ulp_distance(s_.dtype, ref, value));
    s_.histogram.add(err);
    dot_ += value * ref;
    norm_v_ += value * value;
    norm_r_ += ref * ref;
    if (!(err <= kAssertCloseAtol + kAssertCloseRtol * std::fabs(ref))) ++s_.assert_close_mismatches;
    return err;
  }

  ErrorStats finish() {
    if (finite_ > 0) {
      s_.mean_abs = sum_abs_ / double(finite_);
      s_.mean_rel = sum_rel_ / double(finite_);
    }
    s_.ulp_p50 = ulp_.count() ? ulp_.percentile(0.50) : 0.0;
    s_.ulp_p99 = ulp_.count() ? ulp_.percentile(0.99) : 0.0;
    s_.ulp_max = ulp_.count() ? ulp_.max() : 0.0;
    if (s_.nonfinite() > 0) {
      s_.cosine = s_.norm_ratio = kNaN;
    } else if (norm_r_ == 0.0) {
      s_.cosine = norm_v_ == 0.0 ? 1.0 : 0.0;
      s_.norm_ratio = norm_v_ == 0.0 ? 1.0 : kInf;
    } else if (norm_v_ == 0.0) {
      s_.cosine = 0.0;
      s_.norm_ratio = 0.0;
    } else {
      s_.cosine = dot_ / (std::sqrt(norm_v_) * std::sqrt(norm_r_));
      s_.norm_ratio = std::sqrt(norm_v_) / std::sqrt(norm_r_);
    }
    s_.old_rule_pass =
        s_.cosine >= kOldRuleCosine && std::fabs(s_.norm_ratio - 1.0) <= kOldRuleNormTolerance;
    return s_;
  }

 private:
  ErrorStats s_;
  double rel_floor_;
  UlpAccumulator ulp_;
  int64_t finite_ = 0;
  double sum_abs_ = 0, sum_rel_ = 0, dot_ = 0, norm_v_ = 0, norm_r_ = 0;
};

struct RegionAccumulator {
  int64_t n = 0;
  double cmax = 0, csum = 0, bmax = 0;
  int64_t cfinite = 0;
  void add(double cerr, double berr) {
    ++n;
    cmax = std::max(cmax, cerr);
    if (std::isfinite(cerr)) {
      csum += cerr;
      ++cfinite;
    }
    if (!std::isnan(berr)) bmax = std::max(bmax, berr);
  }
  RegionStats stats(std::string kind, std::string label, int64_t first, int64_t last,
                    bool has_baseline) const {
    RegionStats r;
    r.kind = std::move(kind);
    r.label = std::move(label);
    r.first = first;
    r.last = last;
    r.elements = n;
    r.candidate_max_abs = cmax;
    r.candidate_mean_abs = cfinite ? csum / double(cfinite) : 0.0;
    r.baseline_max_abs = has_baseline ? bmax : kNaN;
    return r;
  }
};

// Worst-K candidates: the heap top is the least bad kept element.
struct Ranked {
  double err;
  int64_t flat;
};
struct Worse {  // a is worse than b: larger error, or equal error and a lower flat index
  bool operator()(const Ranked& a, const Ranked& b) const {
    if (a.err != b.err) return a.err > b.err;
    return a.flat < b.flat;
  }
};

void check_shape(const data::Tensor& t, const data::Tensor& reference, const std::string& what,
                 const std::string& name) {
  if (t.shape != reference.shape)
    throw data::InputError(what + " " + name + ": expected shape " +
                           data::shape_string(reference.shape) + " (as the reference), found " +
                           data::shape_string(t.shape));
  if (int64_t(t.values.size()) != t.numel())
    throw data::InputError(what + " " + name + ": holds " + std::to_string(t.values.size()) +
                           " values for shape " + data::shape_string(t.shape));
}

}  // namespace

double GateVerdict::use() const {
  if (threshold > 0) return err_c / threshold;
  return err_c > 0 ? kInf : 0.0;
}

TensorComparison compare_tensor(const TensorId& id, const data::Tensor& reference,
                                const data::Tensor& candidate, const data::Tensor* baseline,
                                const std::vector<int64_t>& valid_rows, int64_t heads_per_group,
                                const CompareOptions& options) {
  const std::string name = id.name();
  if (reference.shape.size() != 3 && reference.shape.size() != 4)
    throw data::InputError("reference " + name + ": expected 3 or 4 dimensions, found " +
                           data::shape_string(reference.shape));
  check_shape(reference, reference, "reference", name);
  check_shape(candidate, reference, "candidate", name);
  if (baseline) check_shape(*baseline, reference, "baseline", name);
  const int64_t B = reference.shape[0], X = reference.shape[1], L = reference.shape[2];
  const int64_t D = reference.shape.size() == 4 ? reference.shape[3] : 1;
  if (int64_t(valid_rows.size()) != B)
    throw data::InputError(name + ": " + std::to_string(valid_rows.size()) +
                           " valid-row counts for batch size " + std::to_string(B));
  heads_per_group = std::max<int64_t>(1, heads_per_group);
  const int64_t groups = (X + heads_per_group - 1) / heads_per_group;

  TensorComparison tc;
  tc.id = id;
  tc.name = name;
  tc.shape = reference.shape;

  const auto for_each_valid = [&](auto&& fn) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t x = 0; x < X; ++x)
        for (int64_t i = 0; i < std::min(valid_rows[size_t(b)], L); ++i) {
          const int64_t base = ((b * X + x) * L + i) * D;
          for (int64_t d = 0; d < D; ++d) fn(b, x, i, d, base + d);
        }
  };

  // Pass 1: reference scale, elements skipped.
  for_each_valid([&](int64_t, int64_t, int64_t, int64_t, int64_t f) {
    const double r = reference.values[size_t(f)];
    ++tc.valid_elements;
    if (!std::isfinite(r)) {
      ++tc.reference_nonfinite;
      return;
    }
    tc.reference_max_abs = std::max(tc.reference_max_abs, std::fabs(r));
  });
  const bool floor_on = options.floor_factor > 0;
  const double offset = options.floor_offset * (options.floor_offset_scaled ? tc.reference_max_abs : 1.0);
  double floor_term = 0;
  tc.relative_floor = tc.reference_max_abs > 0
                          ? options.relative_floor_fraction * tc.reference_max_abs
                          : 1.0;

  // Pass 2: every view.
  StatsAccumulator cand(candidate.dtype, tc.relative_floor);
  std::optional<StatsAccumulator> base;
  if (baseline) base.emplace(baseline->dtype, tc.relative_floor);
  int64_t max_rows = 0;
  for (int64_t v : valid_rows) max_rows = std::max(max_rows, std::min(v, L));
  const auto decile_of = [&](int64_t i) { return max_rows ? int(std::min<int64_t>(9, i * 10 / max_rows)) : 0; };
  std::vector<RegionAccumulator> deciles(10), group_acc(static_cast<size_t>(groups));
  std::priority_queue<Ranked, std::vector<Ranked>, Worse> worst;  // top: least bad kept
  const size_t K = size_t(std::max(0, options.worst_k));

  for_each_valid([&](int64_t, int64_t x, int64_t i, int64_t, int64_t f) {
    const double r = reference.values[size_t(f)];
    if (!std::isfinite(r)) return;
    if (floor_on) floor_term = std::max(floor_term, arithmetic_floor_term(candidate.dtype, r, offset));
    const double cerr = cand.add(r, candidate.values[size_t(f)]);
    const double berr = base ? base->add(r, baseline->values[size_t(f)]) : kNaN;
    deciles[size_t(decile_of(i))].add(cerr, berr);
    group_acc[size_t(x / heads_per_group)].add(cerr, berr);
    if (K == 0) return;
    const Ranked e{cerr, f};
    if (worst.size() < K) {
      worst.push(e);
    } else if (Worse{}(e, worst.top())) {
      worst.pop();
      worst.push(e);
    }
  });
  tc.arithmetic_floor = floor_on ? options.floor_factor * floor_term : 0.0;
  tc.candidate = cand.finish();
  if (base) tc.baseline = base->finish();

  for (int dec = 0; dec < 10; ++dec) {
    const int64_t first = (dec * max_rows + 9) / 10, last = ((dec + 1) * max_rows + 9) / 10 - 1;
    if (deciles[size_t(dec)].n == 0) continue;
    tc.regions.push_back(deciles[size_t(dec)].stats(
        "rows", "rows " + std::to_string(first) + "-" + std::to_string(last), first, last,
        baseline != nullptr));
  }
  for (int64_t g = 0; g < groups; ++g) {
    if (group_acc[size_t(g)].n == 0) continue;
    tc.regions.push_back(group_acc[size_t(g)].stats("group", "group " + std::to_string(g), g, g,
                                                    baseline != nullptr));
  }

  std::vector<Ranked> ranked;
  while (!worst.empty()) {
    ranked.push_back(worst.top());
    worst.pop();
  }
  std::reverse(ranked.begin(), ranked.end());  // worst first
  for (const Ranked& e : ranked) {
    WorstElement w;
    int64_t f = e.flat;
    w.col = reference.shape.size() == 4 ? f % D : -1;
    f /= D;
    w.row = f % L;
    f /= L;
    w.head = f % X;
    w.b = f / X;
    w.block = id.per_kv_head() ? id.block : -1;
    w.reference = reference.values[size_t(e.flat)];
    w.candidate = candidate.values[size_t(e.flat)];
    w.baseline = baseline ? baseline->values[size_t(e.flat)] : kNaN;
    w.abs_err = e.err;
    w.rel_err = std::isfinite(e.err) ? e.err / std::max(std::fabs(w.reference), tc.relative_floor) : kInf;
    w.ulp = ulp_distance(candidate.dtype, w.reference, w.candidate);
    tc.worst.push_back(w);
  }
  return tc;
}

}  // namespace attn::report

#include "reports/accuracy/tensor_comparison.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
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

  // Returns |value - reference| (+inf when value is not finite). `count_ulp`: the element is
  // in the ULP statistics.
  double add(double ref, double value, bool count_ulp) {
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
    if (count_ulp) ulp_.add(ulp_distance(s_.dtype, ref, value));
    s_.histogram.add(err);
    dot_ += value * ref;
    norm_v_ += value * value;
    norm_r_ += ref * ref;
    if (!(err <= kAssertCloseAtol + kAssertCloseRtol * std::fabs(ref))) ++s_.assert_close_mismatches;
    return err;
  }

  /// Adds another accumulator's elements (sums in the order of the calls).
  void merge(const StatsAccumulator& o) {
    s_.elements += o.s_.elements;
    s_.nan += o.s_.nan;
    s_.inf += o.s_.inf;
    s_.max_abs = std::max(s_.max_abs, o.s_.max_abs);
    s_.max_rel = std::max(s_.max_rel, o.s_.max_rel);
    s_.histogram.merge(o.s_.histogram);
    s_.assert_close_mismatches += o.s_.assert_close_mismatches;
    ulp_.merge(o.ulp_);
    finite_ += o.finite_;
    sum_abs_ += o.sum_abs_;
    sum_rel_ += o.sum_rel_;
    dot_ += o.dot_;
    norm_v_ += o.norm_v_;
    norm_r_ += o.norm_r_;
  }

  ErrorStats finish() {
    if (finite_ > 0) {
      s_.mean_abs = sum_abs_ / double(finite_);
      s_.mean_rel = sum_rel_ / double(finite_);
    }
    s_.ulp_p50 = ulp_.count() ? ulp_.percentile(0.50) : 0.0;
    s_.ulp_p99 = ulp_.count() ? ulp_.percentile(0.99) : 0.0;
    s_.ulp_max = ulp_.count() ? ulp_.max() : 0.0;
    s_.ulp_elements = ulp_.count();
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
  void merge(const RegionAccumulator& o) {
    n += o.n;
    cmax = std::max(cmax, o.cmax);
    csum += o.csum;
    cfinite += o.cfinite;
    bmax = std::max(bmax, o.bmax);
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
  if (!t.has_storage())
    throw data::InputError(what + " " + name + ": holds no values");
}

}  // namespace

double GateVerdict::use() const {
  if (threshold > 0) return err_c / threshold;
  return err_c > 0 ? kInf : 0.0;
}

namespace {

/// Everything one chunk of (batch element, head) slabs contributes; merged in chunk order, so
/// results do not depend on the number of threads.
struct ChunkResult {
  ChunkResult(data::DType cand_dtype, std::optional<data::DType> base_dtype, double rel_floor,
              size_t regions)
      : cand(cand_dtype, rel_floor), region(regions) {
    if (base_dtype) base.emplace(*base_dtype, rel_floor);
  }
  StatsAccumulator cand;
  std::optional<StatsAccumulator> base;
  std::vector<RegionAccumulator> region;  ///< 10 row deciles, the groups, then the heads
  std::vector<Ranked> worst;              ///< this chunk's K worst, any order
  double floor_term = 0;
};

/// Converts rows [first, first + n) of `t` to fp64 into buf.
inline const double* f64_row(const data::Tensor& t, int64_t first, int64_t n, double* buf) {
  if (t.dtype == data::DType::f64) return t.data<double>() + first;
  t.read_f64(first, n, buf);
  return buf;
}

}  // namespace

TensorComparison compare_tensor(const TensorId& id, const data::Tensor& reference,
                                const data::Tensor& candidate, const data::Tensor* baseline,
                                const std::vector<int64_t>& valid_rows, int64_t heads_per_group,
                                const CompareOptions& options) {
  const auto started = std::chrono::steady_clock::now();
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
  const int64_t slabs = B * X;  // one (b, x) each: rows [0, valid_rows[b]) of D elements
  auto rows_of = [&](int64_t slab) {
    return std::max<int64_t>(0, std::min(valid_rows[size_t(slab / X)], L));
  };

  TensorComparison tc;
  tc.id = id;
  tc.name = name;
  tc.shape = reference.shape;

  // Pass 1: reference scale and skipped elements.
  int64_t valid = 0, ref_nonfinite = 0;
  double ref_max = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : valid, ref_nonfinite) reduction(max : ref_max)
  for (int64_t slab = 0; slab < slabs; ++slab) {
    const int64_t n = rows_of(slab) * D, first = slab * L * D;
    std::vector<double> buf(reference.dtype == data::DType::f64 ? 0 : size_t(n));
    const double* r = f64_row(reference, first, n, buf.data());
    valid += n;
    for (int64_t e = 0; e < n; ++e) {
      if (!std::isfinite(r[e])) {
        ++ref_nonfinite;
        continue;
      }
      ref_max = std::max(ref_max, std::fabs(r[e]));
    }
  }
  tc.valid_elements = valid;
  tc.reference_nonfinite = ref_nonfinite;
  tc.reference_max_abs = ref_max;
  const bool ulp_floor = options.floor_ulps > 0;
  const bool floor_on = ulp_floor || options.floor_factor > 0;
  const double offset = options.floor_offset * (options.floor_offset_scaled ? tc.reference_max_abs : 1.0);
  const double ulp_min = options.ulp_min_fraction * tc.reference_max_abs;
  tc.relative_floor = tc.reference_max_abs > 0
                          ? options.relative_floor_fraction * tc.reference_max_abs
                          : 1.0;

  // Pass 2: every view, over chunks of whole slabs of about 2^20 elements. The chunking depends
  // on the shape alone.
  int64_t max_rows = 0;
  for (int64_t v : valid_rows) max_rows = std::max(max_rows, std::min(v, L));
  const auto decile_of = [&](int64_t i) { return max_rows ? int(std::min<int64_t>(9, i * 10 / max_rows)) : 0; };
  const size_t K = size_t(std::max(0, options.worst_k));
  const int64_t slabs_per_chunk = std::max<int64_t>(1, (int64_t(1) << 20) / std::max<int64_t>(1, L * D));
  const int64_t chunks = (slabs + slabs_per_chunk - 1) / slabs_per_chunk;
  const std::optional<data::DType> base_dtype =
      baseline ? std::optional<data::DType>(baseline->dtype) : std::nullopt;
  std::vector<std::unique_ptr<ChunkResult>> results(static_cast<size_t>(chunks));

#pragma omp parallel
  {
    std::vector<double> rbuf, cbuf, bbuf;
#pragma omp for schedule(dynamic, 1)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      auto res = std::make_unique<ChunkResult>(candidate.dtype, base_dtype, tc.relative_floor,
                                               size_t(10 + groups + X));
      std::priority_queue<Ranked, std::vector<Ranked>, Worse> worst;  // top: least bad kept
      const int64_t slab_end = std::min(slabs, (chunk + 1) * slabs_per_chunk);
      for (int64_t slab = chunk * slabs_per_chunk; slab < slab_end; ++slab) {
        const int64_t rows = rows_of(slab), n = rows * D, first = slab * L * D;
        const int64_t x = slab % X;
        rbuf.resize(size_t(n));
        cbuf.resize(size_t(n));
        bbuf.resize(size_t(n));
        const double* r = f64_row(reference, first, n, rbuf.data());
        const double* c = f64_row(candidate, first, n, cbuf.data());
        const double* bv = baseline ? f64_row(*baseline, first, n, bbuf.data()) : nullptr;
        RegionAccumulator& group = res->region[size_t(10 + x / heads_per_group)];
        RegionAccumulator& head = res->region[size_t(10 + groups + x)];
        for (int64_t i = 0; i < rows; ++i) {
          RegionAccumulator& decile = res->region[size_t(decile_of(i))];
          for (int64_t d = 0; d < D; ++d) {
            const int64_t e = i * D + d;
            const double rv = r[e];
            if (!std::isfinite(rv)) continue;
            if (floor_on && !ulp_floor)
              res->floor_term = std::max(res->floor_term, arithmetic_floor_term(candidate.dtype, rv, offset));
            const bool count_ulp = std::fabs(rv) >= ulp_min;
            const double cerr = res->cand.add(rv, c[e], count_ulp);
            const double berr = bv ? res->base->add(rv, bv[e], count_ulp) : kNaN;
            decile.add(cerr, berr);
            group.add(cerr, berr);
            head.add(cerr, berr);
            if (K == 0) continue;
            const Ranked item{cerr, first + e};
            if (worst.size() < K) {
              worst.push(item);
            } else if (Worse{}(item, worst.top())) {
              worst.pop();
              worst.push(item);
            }
          }
        }
      }
      while (!worst.empty()) {
        res->worst.push_back(worst.top());
        worst.pop();
      }
      results[size_t(chunk)] = std::move(res);
    }
  }

  // Merge in chunk order.
  StatsAccumulator cand(candidate.dtype, tc.relative_floor);
  std::optional<StatsAccumulator> base;
  if (baseline) base.emplace(baseline->dtype, tc.relative_floor);
  std::vector<RegionAccumulator> region(static_cast<size_t>(10 + groups + X));
  std::vector<Ranked> all_worst;
  double floor_term = 0;
  for (const auto& res : results) {
    cand.merge(res->cand);
    if (base) base->merge(*res->base);
    for (size_t k = 0; k < region.size(); ++k) region[k].merge(res->region[k]);
    all_worst.insert(all_worst.end(), res->worst.begin(), res->worst.end());
    floor_term = std::max(floor_term, res->floor_term);
  }
  tc.arithmetic_floor = ulp_floor  ? options.floor_ulps * ulp_at(candidate.dtype, tc.reference_max_abs)
                        : floor_on ? options.floor_factor * floor_term
                                   : 0.0;
  tc.candidate = cand.finish();
  if (base) tc.baseline = base->finish();

  for (int dec = 0; dec < 10; ++dec) {
    const int64_t first = (dec * max_rows + 9) / 10, last = ((dec + 1) * max_rows + 9) / 10 - 1;
    if (region[size_t(dec)].n == 0) continue;
    tc.regions.push_back(region[size_t(dec)].stats(
        "rows", "rows " + std::to_string(first) + "-" + std::to_string(last), first, last,
        baseline != nullptr));
  }
  for (int64_t g = 0; g < groups; ++g) {
    if (region[size_t(10 + g)].n == 0) continue;
    tc.regions.push_back(region[size_t(10 + g)].stats("group", "group " + std::to_string(g), g, g,
                                                      baseline != nullptr));
  }
  for (int64_t h = 0; h < X; ++h) {
    if (region[size_t(10 + groups + h)].n == 0) continue;
    tc.regions.push_back(region[size_t(10 + groups + h)].stats(
        "head", (id.per_kv_head() ? "kv head " : "head ") + std::to_string(h), h, h,
        baseline != nullptr));
  }

  std::sort(all_worst.begin(), all_worst.end(), Worse{});  // worst first
  if (all_worst.size() > K) all_worst.resize(K);
  for (const Ranked& e : all_worst) {
    WorstElement w;
    int64_t f = e.flat;
    w.col = reference.shape.size() == 4 ? f % D : -1;
    f /= D;
    w.row = f % L;
    f /= L;
    w.head = f % X;
    w.b = f / X;
    w.block = id.per_kv_head() ? id.block : -1;
    w.reference = reference.at(e.flat);
    w.candidate = candidate.at(e.flat);
    w.baseline = baseline ? baseline->at(e.flat) : kNaN;
    w.abs_err = e.err;
    w.rel_err = std::isfinite(e.err) ? e.err / std::max(std::fabs(w.reference), tc.relative_floor) : kInf;
    w.ulp = ulp_distance(candidate.dtype, w.reference, w.candidate);
    tc.worst.push_back(w);
  }
  tc.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return tc;
}

}  // namespace attn::report

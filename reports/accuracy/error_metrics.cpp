#include "reports/accuracy/error_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "reports/detail/fast_rounding.hpp"

namespace attn::report {
namespace {

// Sign-magnitude bit patterns mapped onto a line where neighbours differ by 1. x is already
// a bf16 value, so its float conversion is exact and the bf16 bits are the float's top half.
double ordered_bf16(double x) {
  const float f = float(x);
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t b = u >> 16;
  const double mag = double(b & 0x7fffu);
  return (b & 0x8000u) ? -mag : mag;
}

double ordered_f32(double x) {
  const float f = float(x);  // x already rounded to fp32: exact
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  const double mag = double(b & 0x7fffffffu);
  return (b & 0x80000000u) ? -mag : mag;
}

// fp64 steps between a and b, exact in uint64 (the result is rounded to double only beyond
// 2^53 steps).
double f64_steps(double a, double b) {
  uint64_t ba, bb;
  std::memcpy(&ba, &a, sizeof ba);
  std::memcpy(&bb, &b, sizeof bb);
  const uint64_t ma = ba & 0x7fffffffffffffffull, mb = bb & 0x7fffffffffffffffull;
  if ((ba >> 63) == (bb >> 63) || ma == 0 || mb == 0) return double(ma > mb ? ma - mb : mb - ma);
  return double(ma + mb);  // opposite signs: through zero; each magnitude < 2^63
}

}  // namespace

double ulp_distance(data::DType d, double reference, double value) {
  if (std::isnan(reference) || std::isnan(value)) return std::numeric_limits<double>::quiet_NaN();
  const double r = detail::round_to_fast(d, reference), v = detail::round_to_fast(d, value);
  switch (d) {
    case data::DType::bf16: return std::fabs(ordered_bf16(r) - ordered_bf16(v));
    case data::DType::f32: return std::fabs(ordered_f32(r) - ordered_f32(v));
    case data::DType::f64: return f64_steps(r, v);
  }
  return std::numeric_limits<double>::quiet_NaN();
}

double ulp_at(data::DType d, double x) {
  if (x == 0 || !std::isfinite(x)) return 0.0;
  const int p = d == data::DType::bf16 ? 8 : d == data::DType::f32 ? 24 : 53;
  const int emin = d == data::DType::f64 ? -1022 : -126;
  const int e = std::max(std::ilogb(x), emin);
  return std::ldexp(1.0, e - p + 1);
}

double arithmetic_floor_term(data::DType d, double reference, double offset) {
  const double x = detail::round_to_fast(d, reference);
  const double up = detail::round_to_fast(d, x + offset);
  const double down = detail::round_to_fast(d, up - offset);
  return std::fabs(detail::round_to_fast(d, down - x));
}

double ErrorHistogram::edge(int i) {
  static const double edges[kDecades + 1] = {1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5,
                                             1e-4,  1e-3,  1e-2,  1e-1, 1e0,  1e1,  1e2};
  return edges[i];
}

void ErrorHistogram::add(double e) {
  if (!std::isfinite(e)) {
    ++nonfinite;
  } else if (e == 0.0) {
    ++zero;
  } else if (e < edge(0)) {
    ++below;
  } else if (e >= edge(kDecades)) {
    ++above;
  } else {
    int i = 0;
    while (i + 1 < kDecades && e >= edge(i + 1)) ++i;
    ++decades[size_t(i)];
  }
}

int64_t ErrorHistogram::total() const {
  int64_t n = zero + below + above + nonfinite;
  for (int64_t c : decades) n += c;
  return n;
}

void UlpAccumulator::add(double ulp) {
  if (std::isnan(ulp)) return;
  ++n_;
  if (ulp < double(small_.size()))
    ++small_[size_t(ulp)];
  else
    large_.push_back(ulp);
}

void UlpAccumulator::merge(const UlpAccumulator& other) {
  n_ += other.n_;
  for (size_t u = 0; u < small_.size(); ++u) small_[u] += other.small_[u];
  large_.insert(large_.end(), other.large_.begin(), other.large_.end());
}

void ErrorHistogram::merge(const ErrorHistogram& o) {
  zero += o.zero;
  below += o.below;
  above += o.above;
  nonfinite += o.nonfinite;
  for (size_t i = 0; i < decades.size(); ++i) decades[i] += o.decades[i];
}

double UlpAccumulator::percentile(double p) const {
  if (n_ == 0) return std::numeric_limits<double>::quiet_NaN();
  int64_t rank = int64_t(std::ceil(p * double(n_)));  // 1-based nearest rank
  rank = std::clamp<int64_t>(rank, 1, n_);
  int64_t seen = 0;
  for (size_t u = 0; u < small_.size(); ++u) {
    seen += small_[u];
    if (seen >= rank) return double(u);
  }
  std::vector<double> rest = large_;
  const size_t k = size_t(rank - seen - 1);
  std::nth_element(rest.begin(), rest.begin() + std::ptrdiff_t(k), rest.end());
  return rest[k];
}

double UlpAccumulator::max() const {
  if (n_ == 0) return std::numeric_limits<double>::quiet_NaN();
  if (!large_.empty()) return *std::max_element(large_.begin(), large_.end());
  for (size_t u = small_.size(); u-- > 0;)
    if (small_[u]) return double(u);
  return 0.0;
}

}  // namespace attn::report

// Element-level error measures: ULP distance, the arithmetic floor of the gate, and the
// accumulators behind the per-tensor views (log-binned histogram, ULP percentiles).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "datasets/dtype.hpp"

namespace attn::report {

/// Distance in representable steps of `d` between round_to(d, reference) and round_to(d,
/// value): 0 when equal (+0 and -0 are equal), 1 for neighbours, counted across zero.
/// NaN when either is NaN. For bf16 candidates this is the bf16 ULP distance; fp32 and fp64
/// candidates are measured in their own steps (the unit is reported beside the numbers).
double ulp_distance(data::DType d, double reference, double value);

/// The spacing of representable numbers of `d` at |x| (its ULP there): 2^(e - p + 1) with
/// 2^e <= |x| < 2^(e+1) and p the significand bits (8, 24, 53); the smallest normal's spacing
/// below that; 0 for x = 0 or non-finite x.
double ulp_at(data::DType d, double x);

/// The gate's arithmetic floor for one element: |(x + offset - offset) - x| with
/// x = round_to(d, reference) and each operation rounded to `d` (round_to after an fp64 op).
double arithmetic_floor_term(data::DType d, double reference, double offset);

/// Counts of |err| in decades: zero, (0, 1e-12), [1e-12, 1e-11), ..., [1e1, 1e2), >= 1e2,
/// and non-finite. Decade edges are the fp64 literals 1e-12 .. 1e2.
struct ErrorHistogram {
  static constexpr int kLowExp = -12, kHighExp = 2;
  static constexpr int kDecades = kHighExp - kLowExp;  ///< 14 bins [1e(k), 1e(k+1))
  int64_t zero = 0, below = 0, above = 0, nonfinite = 0;
  std::array<int64_t, kDecades> decades{};

  void add(double abs_err);
  int64_t total() const;
  void merge(const ErrorHistogram& other);
  static double edge(int i);  ///< 1e(kLowExp + i), i = 0..kDecades
};

/// Exact percentiles of integer ULP distances; small distances (< 4096) are counted in a
/// table, larger ones kept in a list, so memory grows only with the number of large ones.
class UlpAccumulator {
 public:
  void add(double ulp);  ///< ignores NaN
  void merge(const UlpAccumulator& other);
  int64_t count() const { return n_; }
  /// Nearest-rank percentile (p in (0, 1]); NaN when empty.
  double percentile(double p) const;
  double max() const;

 private:
  std::vector<int64_t> small_ = std::vector<int64_t>(4096, 0);
  std::vector<double> large_;
  int64_t n_ = 0;
};

}  // namespace attn::report

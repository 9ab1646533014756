// Test helper: a TTT problem that owns its fp64 buffers, filled from a seeded generator.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <random>
#include <vector>

#include "references/structured_reference.hpp"
#include "references/ttt_problem.hpp"

namespace attn::ref::testing {

struct TttCase {
  TttShape shape;
  double scale = 0.0;
  std::vector<double> q, grad_out;
  std::vector<std::vector<double>> k, v;
  std::vector<int64_t> valid_len;

  /// q and k ~ N(0, qk_sigma^2): with scale 1/sqrt(D) the logits have standard deviation
  /// qk_sigma^2, so rows are peaked for qk_sigma = 2. v and grad_out ~ N(0, 1).
  static TttCase random(const TttShape& shape, std::vector<int64_t> valid_len, uint64_t seed,
                        double qk_sigma = 2.0) {
    TttCase c;
    c.shape = shape;
    c.scale = 1.0 / std::sqrt(static_cast<double>(shape.D));
    c.valid_len = std::move(valid_len);
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> qk(0.0, qk_sigma), unit(0.0, 1.0);
    auto fill = [&gen](std::vector<double>& x, int64_t n, std::normal_distribution<double>& d) {
      x.resize(static_cast<size_t>(n));
      for (double& e : x) e = d(gen);
    };
    fill(c.q, shape.q_numel(), qk);
    fill(c.grad_out, shape.q_numel(), unit);
    c.k.resize(static_cast<size_t>(shape.blocks()));
    c.v.resize(static_cast<size_t>(shape.blocks()));
    for (int64_t m = 0; m < shape.blocks(); ++m) {
      fill(c.k[static_cast<size_t>(m)], shape.kv_numel(), qk);
      fill(c.v[static_cast<size_t>(m)], shape.kv_numel(), unit);
    }
    return c;
  }

  /// Views over this case's buffers (valid while the case lives and is not resized).
  TttInputs inputs(bool with_grad = true) const {
    TttInputs in;
    in.shape = shape;
    in.scale = scale;
    in.q = q.data();
    for (const auto& b : k) in.k.push_back(b.data());
    for (const auto& b : v) in.v.push_back(b.data());
    in.grad_out = with_grad ? grad_out.data() : nullptr;
    in.valid_len = valid_len;
    return in;
  }
};

/// max |a - b| / max |b| (b is the reference); max |a - b| when b is all zeros.
inline double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0.0, ref = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    ref = std::max(ref, std::abs(b[i]));
  }
  if (a.size() != b.size()) return INFINITY;
  return ref > 0.0 ? diff / ref : diff;
}

/// Structured options with a given tile (and thread count; 0: OpenMP default).
inline StructuredOptions tiled(int64_t tile, int threads = 0) {
  StructuredOptions o;
  o.tile = tile;
  o.threads = threads;
  return o;
}

/// Bitwise equality (the bit patterns: 0.0 and -0.0 differ, a NaN equals the same NaN) with a
/// readable failure: the number of differing elements and the first.
inline ::testing::AssertionResult same_bits(const std::vector<double>& a,
                                            const std::vector<double>& b) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << "sizes " << a.size() << " vs " << b.size();
  size_t diffs = 0, first = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(double)) != 0) {
      if (diffs++ == 0) first = i;
    }
  if (diffs == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << diffs << " of " << a.size() << " elements differ; first at " << first << ": "
         << std::setprecision(17) << a[first] << " vs " << b[first];
}

inline double max_abs(const std::vector<double>& a) {
  double m = 0.0;
  for (double e : a) m = std::max(m, std::abs(e));
  return m;
}

/// Every tensor of two results bit for bit (EXPECT, naming the tensor).
inline void expect_identical(const TttResult& a, const TttResult& b) {
  EXPECT_TRUE(same_bits(a.out, b.out)) << "out";
  EXPECT_TRUE(same_bits(a.lse, b.lse)) << "lse";
  EXPECT_TRUE(same_bits(a.dq, b.dq)) << "dq";
  ASSERT_EQ(a.dk.size(), b.dk.size());
  ASSERT_EQ(a.dv.size(), b.dv.size());
  for (size_t m = 0; m < a.dk.size(); ++m) {
    EXPECT_TRUE(same_bits(a.dk[m], b.dk[m])) << "dk[" << m << "]";
    EXPECT_TRUE(same_bits(a.dv[m], b.dv[m])) << "dv[" << m << "]";
  }
}

/// The same inputs `shift` elements further into fresh buffers (another alignment).
struct ShiftedInputs {
  std::vector<std::vector<double>> buffers;
  TttInputs in;
  ShiftedInputs(const TttCase& c, size_t shift, bool with_grad = true) : in(c.inputs(with_grad)) {
    auto place = [&](const std::vector<double>& x) {
      buffers.emplace_back(x.size() + shift, 0.0);
      std::copy(x.begin(), x.end(), buffers.back().begin() + static_cast<std::ptrdiff_t>(shift));
      return buffers.back().data() + shift;
    };
    buffers.reserve(2 + 2 * c.k.size());
    in.q = place(c.q);
    if (with_grad) in.grad_out = place(c.grad_out);
    for (size_t m = 0; m < c.k.size(); ++m) in.k[m] = place(c.k[m]), in.v[m] = place(c.v[m]);
  }
};

}  // namespace attn::ref::testing

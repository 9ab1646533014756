// Rounding into bf16 / fp32 on the comparison hot path (private to reports/). Same results as
// data::round_to (a test checks it); normal-range values take a bit-level or hardware path,
// everything else (zero, subnormals, overflow, inf, NaN) falls back to data::round_to.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "datasets/dtype.hpp"

namespace attn::report::detail {

/// Round to nearest even into bf16 (8 significant bits), as fp64.
inline double round_bf16(double x) {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  const uint64_t e = (u >> 52) & 0x7ff;
  if (e < 1023 - 126 || e > 1023 + 127) return data::round_to(data::DType::bf16, x);
  u += ((uint64_t(1) << 44) - 1) + ((u >> 45) & 1);  // 52 - 7 = 45 bits dropped, ties to even
  u &= ~((uint64_t(1) << 45) - 1);
  double r;
  std::memcpy(&r, &u, sizeof r);
  if (std::fabs(r) > 0x1.fep127) return std::copysign(INFINITY, x);  // carried past bf16's max
  return r;
}

/// Round to nearest even into fp32, as fp64 (the hardware conversion is one exact rounding).
inline double round_f32(double x) {
  if (!(std::fabs(x) <= double(FLT_MAX))) return data::round_to(data::DType::f32, x);
  return double(float(x));
}

inline double round_to_fast(data::DType d, double x) {
  switch (d) {
    case data::DType::bf16: return round_bf16(x);
    case data::DType::f32: return round_f32(x);
    case data::DType::f64: return x;
  }
  return x;
}

}  // namespace attn::report::detail

// Rounding an fp64 value into a bf16 bit pattern with one rounding (ties to even), by integer
// operations on the fp64 bits: what round_to(DType::bf16, x) computes, fast enough for the
// generator's hundreds of millions of values. Values outside bf16's normal range take
// round_to's general path.
#pragma once

#include <cstdint>
#include <cstring>

#include "datasets/dtype.hpp"

namespace attn::data::detail {

inline uint16_t bf16_bits_rne(double x) {
  uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  const int exp = int((u >> 52) & 0x7FF) - 1023;
  if (exp >= -126 && exp <= 127) {
    // Keep 7 of the 52 mantissa bits: round at bit 45, ties to even, carrying into the exponent.
    const uint64_t lsb = (u >> 45) & 1;
    uint64_t r = u + ((uint64_t(1) << 44) - 1) + lsb;
    const int rexp = int((r >> 52) & 0x7FF) - 1023;
    if (rexp <= 127) {
      const uint16_t sign = uint16_t((r >> 63) << 15);
      const uint16_t e = uint16_t((rexp + 127) << 7);
      const uint16_t m = uint16_t((r >> 45) & 0x7F);
      return uint16_t(sign | e | m);
    }
  }
  return bf16_bits_from_double(x);  // zero, subnormal, overflow, inf, NaN
}

}  // namespace attn::data::detail

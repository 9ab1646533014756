#include "datasets/dtype.hpp"

#include <cmath>
#include <cstring>

#include "datasets/errors.hpp"

namespace attn::data {
namespace {

/// Round x to a binary floating-point format with `p` significand bits (implicit bit
/// included), minimum normal exponent `emin` and maximum exponent `emax`, ties to even,
/// overflow to +-inf (IEEE 754-2008 section 4.3.1 and 7.4). One rounding from fp64, so no
/// double rounding: x is scaled by the format's quantum 2^(max(e, emin) - p + 1), which is exact
/// (a power of two, no over- or underflow in fp64 for these formats), and the scaled value is
/// rounded to an integer by hand, independent of the current rounding mode.
double round_binary(double x, int p, int emin, int emax) {
  if (std::isnan(x) || std::isinf(x) || x == 0.0) return x;
  const int e = std::ilogb(x);                              // 2^e <= |x| < 2^(e+1)
  const int quantum_exp = (e < emin ? emin : e) - (p - 1);  // subnormals share emin's quantum
  const double y = std::ldexp(x, -quantum_exp);             // exact; |y| < 2^p
  double r = std::floor(y);
  const double frac = y - r;  // exact: |y| < 2^p <= 2^53
  if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1.0;
  const double rounded = std::ldexp(r, quantum_exp);
  const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, 1 - p), emax);
  if (std::fabs(rounded) > max_finite) return std::copysign(INFINITY, x);
  return rounded == 0.0 ? std::copysign(0.0, x) : rounded;
}

}  // namespace

std::string to_string(DType d) {
  switch (d) {
    case DType::bf16:
      return "bf16";
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
  }
  return "?";
}

DType parse_dtype(const std::string& name) {
  if (name == "bf16" || name == "bfloat16") return DType::bf16;
  if (name == "f32" || name == "fp32" || name == "float32") return DType::f32;
  if (name == "f64" || name == "fp64" || name == "float64") return DType::f64;
  throw InputError("unknown dtype '" + name +
                   "': expected bf16 (bfloat16), f32 (fp32, float32) or f64 (fp64, float64)");
}

double round_to(DType d, double x) {
  switch (d) {
    case DType::bf16:
      return round_binary(x, 8, -126, 127);  // bfloat16: 8-bit significand
    case DType::f32:
      return round_binary(x, 24, -126, 127);  // IEEE binary32
    case DType::f64:
      return x;
  }
  return x;
}

uint16_t bf16_bits_from_double(double x) {
  // Every bf16 value is a binary32 value whose low 16 bits are zero, so after exact rounding
  // the conversion to float is exact and the bf16 bits are the float's top half.
  float f = std::isnan(x) ? static_cast<float>(x) : static_cast<float>(round_to(DType::bf16, x));
  uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  uint16_t bits = static_cast<uint16_t>(u >> 16);
  if (std::isnan(x)) bits |= 0x0040;  // keep it a (quiet) NaN whatever the payload's low bits
  return bits;
}

double double_from_bf16_bits(uint16_t bits) {
  const uint32_t u = uint32_t(bits) << 16;
  float f = 0.0f;
  std::memcpy(&f, &u, sizeof f);
  return static_cast<double>(f);
}

}  // namespace attn::data

// Element types of case-file tensors and exact rounding into them.
#pragma once

#include <cstdint>
#include <string>

namespace attn::data {

/// Storage types a case accepts for its inputs. Values are held in memory as fp64, which
/// represents every bf16 and fp32 value exactly; `dtype` says what they were rounded to.
enum class DType { bf16, f32, f64 };

std::string to_string(DType d);
/// Accepts "bf16", "bfloat16", "f32", "fp32", "float32", "f64", "fp64", "float64".
/// Throws InputError naming the accepted spellings otherwise.
DType parse_dtype(const std::string& name);

/// Round x to the nearest value of type d (ties to even), as fp64. Overflow gives +-inf,
/// NaN stays NaN. Exact: no double rounding through fp32 for bf16.
double round_to(DType d, double x);

/// Bit-level bf16 conversions (bf16 is the top half of an IEEE binary32).
uint16_t bf16_bits_from_double(double x);  ///< rounds to nearest even
double double_from_bf16_bits(uint16_t bits);

}  // namespace attn::data

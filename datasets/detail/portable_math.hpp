// log, exp, sin and cos from +, -, *, / and frexp/ldexp only, so that the generator gives
// bit-identical values on every x86-64 machine whatever its libm. Compiled with
// -ffp-contract=off. Accuracy: a few ulp, plenty for synthetic data; reproducibility is the point.
#pragma once

namespace attn::data::detail {

double portable_log(double x);                  ///< x > 0
double portable_exp(double x);                  ///< |x| < 700
void portable_sincos(double x, double* s, double* c);  ///< |x| < 1e9

}  // namespace attn::data::detail

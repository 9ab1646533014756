#include "datasets/detail/portable_math.hpp"

#include <cmath>

namespace attn::data::detail {
namespace {

constexpr double kLn2Hi = 6.93147180369123816490e-01;  // ln 2 split for Cody-Waite reduction
constexpr double kLn2Lo = 1.90821492927058770002e-10;  // (fdlibm's constants)
constexpr double kLn2 = 0.69314718055994530942;
// pi/2 in three parts (fdlibm's pio2_1, pio2_2, pio2_3): r = x - k*p1 - k*p2 - k*p3.
constexpr double kPio2_1 = 1.57079632673412561417e+00;
constexpr double kPio2_2 = 6.07710050630396597660e-11;
constexpr double kPio2_3 = 2.02226624871116645580e-21;
constexpr double kTwoOverPi = 6.36619772367581382433e-01;

// Taylor series on |r| <= pi/4; 1/(2n+1)! terms to r^19 keep the truncation below 1e-18.
double sin_kernel(double r) {
  const double r2 = r * r;
  double term = r, sum = r;
  for (int n = 1; n <= 9; ++n) {
    term = -term * r2 / double((2 * n) * (2 * n + 1));
    sum += term;
  }
  return sum;
}
double cos_kernel(double r) {
  const double r2 = r * r;
  double term = 1.0, sum = 1.0;
  for (int n = 1; n <= 10; ++n) {
    term = -term * r2 / double((2 * n - 1) * (2 * n));
    sum += term;
  }
  return sum;
}

}  // namespace

double portable_log(double x) {
  int e = 0;
  double m = std::frexp(x, &e);  // x = m 2^e, m in [0.5, 1): exact
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  // log m = 2 atanh(f), f = (m - 1) / (m + 1), |f| <= 0.172: series to f^25.
  const double f = (m - 1.0) / (m + 1.0);
  const double f2 = f * f;
  double term = f, sum = f;
  for (int n = 1; n <= 12; ++n) {
    term *= f2;
    sum += term / double(2 * n + 1);
  }
  return double(e) * kLn2 + 2.0 * sum;
}

double portable_exp(double x) {
  const double k = std::nearbyint(x / kLn2);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;  // |r| <= ln2 / 2
  double term = 1.0, sum = 1.0;
  for (int n = 1; n <= 17; ++n) {
    term = term * r / double(n);
    sum += term;
  }
  return std::ldexp(sum, int(k));
}

void portable_sincos(double x, double* s, double* c) {
  const double k = std::nearbyint(x * kTwoOverPi);
  const double r = ((x - k * kPio2_1) - k * kPio2_2) - k * kPio2_3;
  const double sr = sin_kernel(r), cr = cos_kernel(r);
  switch (static_cast<long long>(k) & 3) {
    case 0: *s = sr; *c = cr; break;
    case 1: *s = cr; *c = -sr; break;
    case 2: *s = -sr; *c = -cr; break;
    default: *s = -cr; *c = sr; break;
  }
}

}  // namespace attn::data::detail

// Number formatting shared by the text, Markdown and XML writers (private to reports/).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

namespace attn::report::detail {

/// "1.23e-03"; "nan", "inf", "-inf" for non-finite values.
inline std::string sci(double x, int digits = 2) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*e", digits, x);
  return buf;
}

/// "0.98", "12.3"; "nan"/"inf" for non-finite values.
inline std::string fixed(double x, int digits = 2) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

/// ULP counts: integers as such ("3"), NaN as "nan".
inline std::string count(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return "inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.0f", x);
  return buf;
}

}  // namespace attn::report::detail

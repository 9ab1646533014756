#include "reports/performance/perf_time_format.hpp"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace attn::report {
namespace {

// Reads `n` digits at s[pos]; false when there are fewer.
bool digits(const std::string& s, std::size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(const std::string& s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + std::int64_t(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = int(doy - (153 * mp + 2) / 5 + 1);
  m = int(mp < 10 ? mp + 3 : mp - 9);
  y = int(std::int64_t(yoe) + era * 400 + (m <= 2));
}

// Minutes since the epoch in UTC; false when `s` is not one of the accepted forms.
bool parse_utc_minutes(const std::string& s, std::int64_t& minutes) {
  std::size_t p = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, p, 4, y) || !expect(s, p, '-') || !digits(s, p, 2, mo) || !expect(s, p, '-') || !digits(s, p, 2, d))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  int offset = 0;  // minutes east of UTC
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != ' ') return false;
    ++p;
    if (!digits(s, p, 2, h) || !expect(s, p, ':') || !digits(s, p, 2, mi)) return false;
    if (p < s.size() && s[p] == ':' && (++p, !digits(s, p, 2, sec))) return false;
    if (p < s.size() && s[p] == '.') {
      ++p;
      const std::size_t start = p;
      while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) ++p;
      if (p == start) return false;
    }
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        const int sign = s[p++] == '-' ? -1 : 1;
        int oh, om = 0;
        if (!digits(s, p, 2, oh)) return false;
        if (p < s.size() && s[p] == ':') ++p;
        if (p < s.size() && !digits(s, p, 2, om)) return false;
        if (oh > 23 || om > 59) return false;
        offset = sign * (oh * 60 + om);
      } else {
        return false;
      }
    }
    if (p != s.size() || h > 23 || mi > 59 || sec > 60) return false;
  }
  minutes = days_from_civil(y, unsigned(mo), unsigned(d)) * 1440 + h * 60 + mi - offset;
  return true;
}

}  // namespace

std::string utc_minute(const std::string& iso) {
  std::int64_t minutes;
  if (!parse_utc_minutes(iso, minutes)) return "";
  std::int64_t days = minutes / 1440, rest = minutes % 1440;
  if (rest < 0) {
    rest += 1440;
    --days;
  }
  int y, m, d;
  civil_from_days(days, y, m, d);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d UTC", y, m, d, int(rest / 60), int(rest % 60));
  return buf;
}

std::string display_time(const std::string& iso) {
  if (iso.empty()) return "";
  const std::string t = utc_minute(iso);
  return t.empty() ? "unparsed date '" + iso + "'" : t;
}

std::string utc_date(const std::string& iso) {
  const std::string t = utc_minute(iso);
  return t.empty() ? "" : t.substr(0, 10);
}

}  // namespace attn::report

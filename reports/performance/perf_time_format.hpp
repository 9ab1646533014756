// The one time format of the performance report: ISO 8601 in UTC to the minute,
// "2026-12-01 10:52 UTC". Google Benchmark writes its context date with the local offset and
// two spellings of it ("+00:00" from attn-bench, "+0000" from the flex adapter); the report
// converts every time stamp it shows through here.
#pragma once

#include <string>

namespace attn::report {

/// "2026-11-24T14:18:37+01:00" -> "2026-11-24 13:18 UTC". Accepts a date ("2026-11-24"), a
/// date and time separated by 'T' or ' ', optional seconds and fraction, and an offset "Z",
/// "+HH:MM", "+HHMM", "+HH" or none (taken as UTC). Returns "" when `iso` does not parse.
std::string utc_minute(const std::string& iso);

/// utc_minute(iso), or, when it does not parse, "unparsed date '<iso>'" (so that the page never
/// shows a second format without saying so); "" for an empty input.
std::string display_time(const std::string& iso);

/// The UTC date part of utc_minute ("2026-11-24"); "" when it does not parse.
std::string utc_date(const std::string& iso);

}  // namespace attn::report

// The time stamp every record and result carries: UTC, ISO 8601 to the second.
#pragma once

#include <string>

namespace attn::data {

/// Now, as "2026-12-01T10:52:33Z".
std::string utc_timestamp();

}  // namespace attn::data

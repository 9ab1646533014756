// Reading one JSON file given to `attn-harness report` / `perf-noise`.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace attn::report {

/// The parsed document of `path`, plain or gzipped (recognised by its magic bytes; needs a build
/// with zlib). Throws data::InputError "<label>: cannot open (missing or unreadable)", "<label>:
/// a damaged gzip file (...)" or "<label>: not JSON: <parser message>"; `label` defaults to the
/// path.
nlohmann::json read_json_file(const std::string& path, const std::string& label = "");

}  // namespace attn::report

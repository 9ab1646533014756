// What `attn-harness info` shows: a case's shapes, dtype, valid rows, producers and reference.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/case.hpp"

namespace attn::report {

struct CaseSummary {
  std::string path;
  uint64_t file_bytes = 0;
  data::CaseConfig config;
  std::vector<int64_t> valid_len;
  std::vector<int64_t> valid_rows;  ///< per batch element: max(0, valid_len - t)
  std::optional<data::GeneratorParams> generator;
  std::string input_hash;
  /// Producer name -> provenance attributes.
  std::map<std::string, std::map<std::string, std::string>> producers;
  /// "none", "current" (its input_hash matches) or "stale".
  std::string reference_state = "none";
  std::map<std::string, std::string> reference_provenance;
};

/// Reads the case (inputs are validated) and the metadata of its producers and reference.
CaseSummary summarize_case(const std::filesystem::path& path);

/// A few readable lines for a terminal.
std::string format_case_summary(const CaseSummary& s);

/// Stable machine form; keys documented in README.md ("info --json").
nlohmann::json case_summary_json(const CaseSummary& s);

}  // namespace attn::report

// What `attn-harness info` shows: a case's shapes, dtype, valid rows, generator, and the state
// of its producers and cached reference, from attributes alone (no tensor is read unless the
// inputs are re-hashed on request).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/case_store.hpp"

namespace attn::report {

struct RecordSummary {
  std::string name;
  std::string state;  ///< current, stale, unverified, damaged (data::RecordState)
  std::string input_hash;
  std::map<std::string, std::string> provenance;
  std::vector<std::string> tensors;
  uint64_t bytes = 0;
  std::string damage;
};

struct CaseSummary {
  data::CaseManifest manifest;
  std::vector<int64_t> valid_rows;  ///< per batch element: max(0, valid_len - t)
  /// The hash the states are judged against: the recorded one, or the one computed from the
  /// inputs' values when `verified`.
  std::string input_hash;
  bool verified = false;
  /// With `verified`: whether the recorded hash matches the values (false: the inputs were
  /// edited after they were written).
  bool recorded_hash_matches = true;
  std::vector<RecordSummary> producers;
  std::optional<RecordSummary> reference;
};

/// Reads the manifest; with `verify` also reads and hashes the inputs.
CaseSummary summarize_case(const std::filesystem::path& path, bool verify = false);

/// A few aligned lines for a terminal.
std::string format_case_summary(const CaseSummary& s);

/// Stable machine form ("attn-harness.info/2"); keys documented in docs/cli.md ("info").
nlohmann::json case_summary_json(const CaseSummary& s);

}  // namespace attn::report

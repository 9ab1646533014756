// Case -> comparison: reads the case's manifest and inputs, the named producers, gets the fp64
// reference (cached), and compares under a profile. Shared by `compare` and `gate`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "datasets/case_store.hpp"
#include "harness/reference_cache.hpp"
#include "reports/accuracy/case_comparison.hpp"

namespace attn::cli {

struct JudgeRequest {
  std::string candidate;
  std::string baseline;            ///< empty: none
  bool baseline_explicit = false;  ///< given on the command line: missing is an error even
                                   ///< under an absolute profile
  report::GateProfile profile;
  report::CompareOptions options;
  ReferenceOptions reference;
};

/// Throws InputError (naming the next step) when the candidate is not recorded in the case,
/// is damaged or stale (recorded from other inputs), or the baseline is missing while the
/// profile is relative (or the baseline was named explicitly); the message lists the
/// producers present. A producer without an input hash (schema 1) is judged with a note.
report::CaseComparison judge_case(const std::filesystem::path& path, const JudgeRequest& request);

/// The producer `name` of `m`, current against `hash`; InputError naming the command that
/// records it when it is missing, and what to do when it is damaged or stale. `role` is
/// "candidate", "baseline", ... for the message.
const data::RecordInfo& require_current_producer(const data::CaseManifest& m,
                                                 const std::string& name,
                                                 const std::string& hash,
                                                 const std::string& role);

/// "a, b, c" or "none".
std::string producer_list(const std::vector<std::string>& names);

}  // namespace attn::cli

// Case file -> comparison: reads the inputs and the named producers, gets the fp64 reference
// (cached), and compares under a profile. Shared by `compare` and `gate`.
#pragma once

#include <filesystem>
#include <string>

#include "harness/reference_cache.hpp"
#include "reports/case_comparison.hpp"

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

/// Throws InputError when the candidate is not recorded in the case, or the baseline is
/// missing while the profile is relative (or the baseline was named explicitly); the message
/// lists the producers present.
report::CaseComparison judge_case(const std::filesystem::path& path, const JudgeRequest& request);

/// "a, b, c" or "none".
std::string producer_list(const std::vector<std::string>& names);

}  // namespace attn::cli

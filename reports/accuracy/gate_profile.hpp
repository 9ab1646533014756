// Gate profiles: which tensors a gate judges and with what rule, read from a JSON file.
// Shipped profiles live in reports/profiles/<name>.json; docs/gate.md "Profiles"
// documents the schema:
//
//   {
//     "schema": "attn-harness.profile/1",
//     "name": "bf16",                     // optional; defaults to the file's stem
//     "description": "...",               // optional
//     "mode": "relative" | "absolute",
//     "floor": {"ulps": 1}                // floor = ulps x the spacing of the candidate's dtype
//                                         // at max|X_ref| (scales with the tensor), or
//            | {"factor": 2, "offset": 0.3,          // default {2, 0.3, absolute}:
//               "offset_scale": "absolute" | "max_abs_ref"} | false,   // factor x max|(x + o - o) - x|
//     "budgets": "bf16-budgets.json",     // optional: error budgets (error_budgets.hpp), a file
//                                         // beside the profile; the candidate must also keep
//                                         // err_c <= budget x max|X_ref|
//     "tensors": {                        // only the tensors listed are judged
//       "out": {"ratio": 2},              // relative: err_c <= ratio * err_b + floor
//       "dk":  {"ratio": 3},              // a kind covers every block (dk0..dk<t>)
//       "dk0": {"ratio": 4},              // a named block overrides its kind
//       "lse": {"atol": 1e-3, "atol_scaled": 0.0156}  // absolute: err_c <= atol + atol_scaled * max|ref| + floor
//     }
//   }
//
// Unknown keys, unknown tensor names and missing or negative numbers are InputErrors.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "reports/accuracy/error_budgets.hpp"
#include "reports/accuracy/output_tensors.hpp"

namespace attn::report {

struct TensorRule {
  double ratio = 0;        ///< relative mode
  double atol = 0;         ///< absolute mode, in the tensor's units
  double atol_scaled = 0;  ///< absolute mode, times max |X_ref| over valid elements
};

struct GateProfile {
  enum class Mode { relative, absolute };
  std::string name, description;
  std::string source;  ///< the file it came from ("" for profiles built in code)
  Mode mode = Mode::relative;
  double floor_factor = 2.0, floor_offset = 0.3;  ///< factor 0: no floor
  bool floor_offset_scaled = false;  ///< offset times max|X_ref| ("offset_scale": "max_abs_ref")
  /// > 0: the floor is floor_ulps x ulp(max|X_ref|) in the candidate's dtype (the offset form
  /// is then unused).
  double floor_ulps = 0;
  /// Error budgets applied with the rule (both must hold); empty: the rule alone.
  std::shared_ptr<const ErrorBudgets> budgets;
  std::string budgets_file;  ///< as the profile names it (relative to the profile's folder)
  /// Keys: "out", "lse", "dq", "dk", "dv" (every block) or "dk<m>", "dv<m>" (one block).
  std::map<std::string, TensorRule> rules;

  /// The rule for `id` (its own name first, then its kind); nullopt: not judged.
  std::optional<TensorRule> rule_for(const TensorId& id) const;
  bool needs_baseline() const { return mode == Mode::relative; }
  std::string mode_name() const { return mode == Mode::relative ? "relative" : "absolute"; }
};

/// The relative rule of the default profile, built in code (no budgets): r = 2 for out and lse,
/// 3 for dq, dk, dv, floor 1 ulp at max|X_ref|. The shipped "bf16" adds the error budgets.
GateProfile default_bf16_profile();

/// Parses a profile; `where` names its origin in error messages. Throws InputError.
GateProfile parse_profile(const std::string& json_text, const std::string& where);

/// Reads a profile file. Throws InputError naming the file when missing or invalid.
GateProfile load_profile_file(const std::filesystem::path& path);

/// Folders searched for shipped profiles, in order: $ATTN_PROFILE_DIR, <exe>/../share/
/// attn-harness/profiles, the install prefix's share/attn-harness/profiles, and the source
/// tree's reports/profiles (compiled in).
std::vector<std::filesystem::path> profile_search_path();

/// `name_or_path` is a file when it names an existing file or contains '/' or ends in
/// ".json"; otherwise a shipped profile name looked up in profile_search_path(). Throws
/// InputError listing the folders searched and the names found there.
GateProfile find_profile(const std::string& name_or_path);

}  // namespace attn::report

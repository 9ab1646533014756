// Error budgets: per backend (and device kind) and tensor kind, the largest error relative to
// max|X_ref| that the correct path is allowed, measured by `attn-harness calibrate` with stated
// headroom and kept as a reviewed, versioned file (reports/profiles/<profile>.budgets.json).
// docs/gate.md explains the rule and how to update the file.
//
//   {
//     "schema": "attn-harness.budgets/1",
//     "profile": "bf16",
//     "calibration": {"flash/cuda": {"headroom": 4, ...}},  // how each key was measured:
//                                          // budget = headroom x the largest error observed
//     "budgets":  {"flash/cuda": {"out": 3.1e-3, "lse": 2e-6, "dq": ..., "dk": ..., "dv": ...}, ...},
//     "observed": {"flash/cuda": {"out": 7.7e-4, ...}, ...}
//   }
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace attn::report {

struct ErrorBudgets {
  std::string source;  ///< the file they came from
  std::string profile;
  nlohmann::json calibration;
  /// "<backend>/<cpu|cuda>" -> tensor kind ("out", "lse", "dq", "dk", "dv") -> budget.
  std::map<std::string, std::map<std::string, double>> budgets, observed;

  /// The budget of `key` for tensor kind `kind`; nullopt when there is none.
  std::optional<double> find(const std::string& key, const std::string& kind) const;
  bool has(const std::string& key) const { return budgets.count(key) > 0; }
};

/// Parses a budget file; InputError naming `where` on anything unexpected.
ErrorBudgets parse_budgets(const std::string& json_text, const std::string& where);
ErrorBudgets load_budgets(const std::filesystem::path& path);
nlohmann::json budgets_json(const ErrorBudgets& b);

/// The budget key of a producer from its provenance: "<backend>/cpu" or "<backend>/cuda"
/// (a device attribute of "cpu" is the CPU, any other device a GPU; none: "/unknown").
std::string budget_key(const std::map<std::string, std::string>& provenance);

}  // namespace attn::report

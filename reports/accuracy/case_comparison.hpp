// A whole case judged: every output tensor of a candidate against the fp64 reference (and a
// baseline), the gate verdict per tensor, and the invalid-row contract check.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/case.hpp"
#include "reports/accuracy/gate_profile.hpp"
#include "reports/accuracy/invalid_rows_check.hpp"
#include "reports/accuracy/tensor_comparison.hpp"

namespace attn::report {

struct ProducerInfo {
  std::string name;
  std::map<std::string, std::string> provenance;
};

struct CaseComparison {
  std::string case_path;  ///< as given by the caller (may be empty)
  std::string input_hash; ///< filled by callers that know it
  data::CaseConfig config;
  std::vector<int64_t> valid_len, valid_rows;
  ProducerInfo candidate, reference;
  std::optional<ProducerInfo> baseline;
  GateProfile profile;
  CompareOptions options;
  std::vector<TensorComparison> tensors;  ///< out, lse, dq, dk0..dk<t>, dv0..dv<t>
  InvalidRowsCheck invalid_rows;          ///< of the candidate
  double invalid_rows_seconds = 0;        ///< time the check took
  std::string budget_key;                 ///< "flash/cuda": the candidate's error-budget key
  bool budgets_apply = false;             ///< the profile has budgets for that key
  /// Every judged tensor passed and (unless options.enforce_invalid_rows is off) the declared
  /// invalid-row contract holds.
  bool passed = true;
  std::vector<std::string> notes;         ///< things a reader must know (unverified records, ...)

  int judged() const;
  std::vector<std::string> failed_tensors() const;
  /// The invalid-row contract is violated and enforced (a failure of its own).
  bool invalid_rows_failed() const {
    return invalid_rows.checked && !invalid_rows.passed && options.enforce_invalid_rows;
  }
};

/// Compares every output tensor the candidate recorded and applies `profile`. The floor
/// settings of `options` are replaced by the profile's. Throws InputError when a relative
/// profile has no baseline, when the baseline or the reference lacks a tensor the candidate
/// recorded, on a wrong shape, when the profile judges none of the candidate's tensors, or
/// when its invalid_rows is unknown.
CaseComparison compare_case(const data::CaseConfig& config, const std::vector<int64_t>& valid_len,
                            const data::ProducerOutputs& reference,
                            const data::ProducerOutputs& candidate,
                            const data::ProducerOutputs* baseline, const GateProfile& profile,
                            CompareOptions options = {});
/// The same with the config and valid_len of `inputs`.
CaseComparison compare_case(const data::CaseInputs& inputs, const data::ProducerOutputs& reference,
                            const data::ProducerOutputs& candidate,
                            const data::ProducerOutputs* baseline, const GateProfile& profile,
                            CompareOptions options = {});

}  // namespace attn::report

// Writers of comparison and gate results. One result struct, several readers (text for a
// terminal, JSON for machines, Markdown for a pull-request comment, JUnit XML for CI).
// README.md "Comparing and gating" documents the JSON keys and the JUnit layout.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/case_comparison.hpp"
#include "reports/gate_run.hpp"

namespace attn::report {

/// The tensors whose worst elements a summary shows: every failing judged tensor, or, when
/// none fails, the one closest to its threshold (highest err_c / threshold).
std::vector<const TensorComparison*> tensors_to_detail(const CaseComparison& c);

// comparison_text.cpp
/// compare's stdout: header, one line per tensor, worst elements, invalid rows, verdict.
std::string format_comparison_text(const CaseComparison& c);
/// One line for `gate`: "PASS case.h5 (17/17 tensors)" or "FAIL case.h5: dq (...)".
std::string format_gate_case_line(const GateCaseResult& r);
/// The total line of `gate`.
std::string format_gate_total(const GateRun& run);

// comparison_json.cpp
/// "schema": "attn-harness.compare/1". Non-finite numbers are written as null.
nlohmann::json comparison_json(const CaseComparison& c);
/// "schema": "attn-harness.gate/1": per case the verdicts and headline numbers per tensor.
nlohmann::json gate_json(const GateRun& run);

// comparison_markdown.cpp
std::string comparison_markdown(const CaseComparison& c);

// junit_xml.cpp
/// One <testsuite> per case file, one <testcase> "CASE:tensor" per judged tensor, an <error>
/// testcase for a case stopped by an input error.
std::string gate_junit_xml(const GateRun& run);

}  // namespace attn::report

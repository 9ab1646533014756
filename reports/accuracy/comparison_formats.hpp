// Writers of comparison and gate results. One result struct, several readers (text for a
// terminal, JSON for machines, Markdown for a pull-request comment, JUnit XML for CI).
// docs/gate.md "Output" documents the JSON keys and the JUnit layout.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/accuracy/case_comparison.hpp"
#include "reports/accuracy/gate_run.hpp"

namespace attn::report {

/// The tensors whose worst elements a summary shows: every failing judged tensor, or, when
/// none fails, the one closest to its threshold (highest err_c / threshold).
std::vector<const TensorComparison*> tensors_to_detail(const CaseComparison& c);

/// The regions of one kind ("rows", "group", "head") in their order, or with `top` > 0 the
/// `top` of them with the largest candidate error (ties keep their order).
std::vector<const RegionStats*> regions_to_show(const TensorComparison& t, const std::string& kind,
                                                size_t top);

// comparison_text.cpp
/// "bf16 (relative, floor 1.0 ulp at max|ref|, error budgets)".
std::string profile_description(const GateProfile& p);
/// compare's stdout: header, an aligned table (one row per tensor), cache blocks, worst
/// elements and regions (row deciles, GQA groups, worst heads) of the failing (or the closest)
/// tensors, invalid rows, notes, verdict.
std::string format_comparison_text(const CaseComparison& c);
/// `gate`'s lines for one case: "PASS CASE (17/17 tensors; ...)", or "FAIL CASE (...)" and one
/// indented line per failing tensor (and the invalid-row violations); notes after.
std::string format_gate_case_line(const GateCaseResult& r);
/// One line per tensor with invalid-row violations: where and the largest value.
std::string invalid_rows_details(const CaseComparison& c, const std::string& indent);
/// The total line of `gate`.
std::string format_gate_total(const GateRun& run);

// comparison_json.cpp
/// "schema": "attn-harness.compare/1". Non-finite numbers are written as null.
nlohmann::json comparison_json(const CaseComparison& c);
/// "schema": "attn-harness.gate/2": the tool's version and commit, and per case the
/// candidate's provenance, the verdicts and headline numbers per tensor.
nlohmann::json gate_json(const GateRun& run);

// comparison_markdown.cpp
std::string comparison_markdown(const CaseComparison& c);

// junit_xml.cpp
/// One <testsuite> per case, one <testcase> "CASE:tensor" per judged tensor (time: the
/// seconds spent judging it) and "CASE:invalid_rows" when a zeros declaration is checked, an
/// <error> testcase for a case stopped by an input error.
std::string gate_junit_xml(const GateRun& run);

}  // namespace attn::report

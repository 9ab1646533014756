// Writers of the detection matrix: a terminal table, Markdown (fits a pull-request comment)
// and JSON ("schema": "attn-harness.selftest/2"). docs/gate.md "The self-test"
// explains the columns.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "harness/selftest/detection_matrix.hpp"

namespace attn::cli::selftest {

std::string format_matrix_text(const DetectionMatrix& m);
std::string format_matrix_markdown(const DetectionMatrix& m);
nlohmann::json matrix_json(const DetectionMatrix& m);

}  // namespace attn::cli::selftest

// Writers of a calibration: a terminal table and JSON ("schema": "attn-harness.calibrate/1").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "harness/selftest/calibration.hpp"

namespace attn::cli::selftest {

std::string format_calibration_text(const CalibrationResult& r);
nlohmann::json calibration_json(const CalibrationResult& r);

}  // namespace attn::cli::selftest

// Synthetic Google Benchmark JSON for the perf-report tests.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/errors.hpp"

namespace attn::report::test {

/// A Google Benchmark document with a context (device, torch_version, commit) and no entries.
nlohmann::json bench_doc(const std::string& commit = "abc123");

/// Per-repetition entries of `name` (times in ms) with counters; then the GB aggregates
/// (mean, median, stddev, cv) unless `aggregates` is false.
void add_repetitions(nlohmann::json& doc, const std::string& name, const std::vector<double>& ms,
                     const nlohmann::json& counters = nlohmann::json::object(), bool aggregates = true);
/// `reps` failed entries of `name` with error_occurred and `message` (times 0, as GB writes).
void add_failure(nlohmann::json& doc, const std::string& name, const std::string& message, int reps = 1);

/// Writes `doc` (or raw text) to a fresh file under the test temp folder; returns the path.
std::string write_temp(const std::string& stem, const nlohmann::json& doc);
std::string write_temp_text(const std::string& stem, const std::string& text);
/// A fresh empty folder under the test temp folder.
std::string temp_dir(const std::string& stem);

/// The committed sample (reports/performance/tests/data/<file>).
std::string sample(const std::string& file);

/// The message of the data::InputError `f` throws ("" when it throws none).
template <class F>
std::string input_error(F f) {
  try {
    f();
  } catch (const data::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace attn::report::test

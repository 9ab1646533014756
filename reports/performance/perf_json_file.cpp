#include "reports/performance/perf_json_file.hpp"

#include <fstream>

#include "datasets/errors.hpp"

namespace attn::report {

nlohmann::json read_json_file(const std::string& path, const std::string& label) {
  const std::string where = label.empty() ? path : label;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw data::InputError(where + ": cannot open (missing or unreadable)");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw data::InputError(where + ": not JSON: " + e.what());
  }
}

}  // namespace attn::report

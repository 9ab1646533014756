#include "reports/accuracy/error_budgets.hpp"

#include <fstream>
#include <sstream>

#include "datasets/errors.hpp"

namespace attn::report {

using nlohmann::json;

std::optional<double> ErrorBudgets::find(const std::string& key, const std::string& kind) const {
  const auto b = budgets.find(key);
  if (b == budgets.end()) return std::nullopt;
  const auto k = b->second.find(kind);
  if (k == b->second.end()) return std::nullopt;
  return k->second;
}

namespace {

std::map<std::string, std::map<std::string, double>> table(const json& j, const std::string& where) {
  std::map<std::string, std::map<std::string, double>> t;
  if (!j.is_object()) throw data::InputError(where + ": expected an object of backends");
  for (auto b = j.begin(); b != j.end(); ++b) {
    if (b.key().find('/') == std::string::npos)
      throw data::InputError(where + ": key '" + b.key() + "' is not <backend>/<cpu|cuda>");
    if (!b.value().is_object()) throw data::InputError(where + "." + b.key() + ": expected an object");
    for (auto k = b.value().begin(); k != b.value().end(); ++k) {
      const std::string& kind = k.key();
      if (kind != "out" && kind != "lse" && kind != "dq" && kind != "dk" && kind != "dv")
        throw data::InputError(where + "." + b.key() + ": unknown tensor kind '" + kind +
                               "' (expected out, lse, dq, dk, dv)");
      if (!k.value().is_number() || !(k.value().get<double>() > 0))
        throw data::InputError(where + "." + b.key() + "." + kind + ": expected a positive number, found " +
                               k.value().dump());
      t[b.key()][kind] = k.value().get<double>();
    }
  }
  return t;
}

}  // namespace

ErrorBudgets parse_budgets(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw data::InputError(where + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || j.value("schema", "") != "attn-harness.budgets/1")
    throw data::InputError(where + ": expected an object with \"schema\": \"attn-harness.budgets/1\"");
  ErrorBudgets b;
  b.source = where;
  b.profile = j.value("profile", "");
  if (j.contains("calibration")) b.calibration = j["calibration"];
  if (!j.contains("budgets")) throw data::InputError(where + ": missing \"budgets\"");
  b.budgets = table(j["budgets"], where + " budgets");
  if (j.contains("observed")) b.observed = table(j["observed"], where + " observed");
  return b;
}

ErrorBudgets load_budgets(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw data::InputError("budgets " + path.string() + ": cannot open (no such file or not readable)");
  std::ostringstream text;
  text << in.rdbuf();
  ErrorBudgets b = parse_budgets(text.str(), "budgets " + path.string());
  b.source = path.string();
  return b;
}

json budgets_json(const ErrorBudgets& b) {
  return json{{"schema", "attn-harness.budgets/1"}, {"profile", b.profile},
              {"calibration", b.calibration},
              {"budgets", b.budgets},             {"observed", b.observed}};
}

std::string budget_key(const std::map<std::string, std::string>& provenance) {
  const auto backend = provenance.find("backend");
  const auto device = provenance.find("device");
  const std::string name = backend == provenance.end() ? "unknown" : backend->second;
  if (device == provenance.end()) return name + "/unknown";
  return name + "/" + (device->second == "cpu" ? "cpu" : "cuda");
}

}  // namespace attn::report

#include "reports/accuracy/gate_profile.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "datasets/errors.hpp"

#ifndef ATTN_PROFILE_SOURCE_DIR
#define ATTN_PROFILE_SOURCE_DIR ""
#endif
#ifndef ATTN_PROFILE_INSTALL_DIR
#define ATTN_PROFILE_INSTALL_DIR ""
#endif

namespace attn::report {
namespace {

using nlohmann::json;

void reject_unknown_keys(const json& obj, const std::set<std::string>& known, const std::string& where) {
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (!known.count(it.key())) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw data::InputError(where + ": unknown key '" + it.key() + "' (expected one of " + list + ")");
    }
}

double number_at(const json& obj, const std::string& key, const std::string& where) {
  const json& v = obj.at(key);
  if (!v.is_number())
    throw data::InputError(where + ": '" + key + "' must be a number, found " + v.dump());
  const double x = v.get<double>();
  if (!(x >= 0))
    throw data::InputError(where + ": '" + key + "' must be >= 0, found " + v.dump());
  return x;
}

std::string string_at(const json& obj, const std::string& key, const std::string& where) {
  const json& v = obj.at(key);
  if (!v.is_string())
    throw data::InputError(where + ": '" + key + "' must be a string, found " + v.dump());
  return v.get<std::string>();
}

bool valid_rule_key(const std::string& key) {
  if (key == "dk" || key == "dv") return true;
  const auto id = parse_tensor_name(key);
  return id.has_value();
}

}  // namespace

std::optional<TensorRule> GateProfile::rule_for(const TensorId& id) const {
  auto it = rules.find(id.name());
  if (it == rules.end()) it = rules.find(id.kind_name());
  if (it == rules.end()) return std::nullopt;
  return it->second;
}

GateProfile default_bf16_profile() {
  GateProfile p;
  p.name = "bf16-relative";
  p.description = "err_c <= r * err_b + 1 ulp at max|X_ref|, r = 2 (out, lse), 3 (gradients); no budgets";
  p.floor_ulps = 1;
  p.rules = {{"out", {2, 0, 0}}, {"lse", {2, 0, 0}}, {"dq", {3, 0, 0}}, {"dk", {3, 0, 0}}, {"dv", {3, 0, 0}}};
  return p;
}

GateProfile parse_profile(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw data::InputError(where + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw data::InputError(where + ": expected a JSON object, found " + j.type_name());
  reject_unknown_keys(j, {"schema", "name", "description", "mode", "floor", "budgets", "tensors"}, where);

  GateProfile p;
  if (!j.contains("schema") || string_at(j, "schema", where) != "attn-harness.profile/1")
    throw data::InputError(where + ": expected \"schema\": \"attn-harness.profile/1\", found " +
                           (j.contains("schema") ? j["schema"].dump() : std::string("none")));
  if (j.contains("name")) p.name = string_at(j, "name", where);
  if (j.contains("description")) p.description = string_at(j, "description", where);
  if (!j.contains("mode")) throw data::InputError(where + ": missing \"mode\" (\"relative\" or \"absolute\")");
  const std::string mode = string_at(j, "mode", where);
  if (mode == "relative")
    p.mode = GateProfile::Mode::relative;
  else if (mode == "absolute")
    p.mode = GateProfile::Mode::absolute;
  else
    throw data::InputError(where + ": \"mode\" must be \"relative\" or \"absolute\", found \"" + mode + "\"");

  if (j.contains("floor")) {
    const json& f = j["floor"];
    if (f.is_boolean()) {
      if (!f.get<bool>()) p.floor_factor = 0;
    } else if (f.is_object()) {
      reject_unknown_keys(f, {"factor", "offset", "offset_scale", "ulps"}, where + " floor");
      if (f.contains("ulps")) {
        if (f.size() != 1)
          throw data::InputError(where + ": floor \"ulps\" stands alone (no factor or offset)");
        p.floor_ulps = number_at(f, "ulps", where + " floor");
        if (!(p.floor_ulps > 0)) throw data::InputError(where + ": floor \"ulps\" must be > 0");
      }
      if (f.contains("factor")) p.floor_factor = number_at(f, "factor", where + " floor");
      if (f.contains("offset")) p.floor_offset = number_at(f, "offset", where + " floor");
      if (f.contains("offset_scale")) {
        const std::string s = string_at(f, "offset_scale", where + " floor");
        if (s != "absolute" && s != "max_abs_ref")
          throw data::InputError(where + ": floor \"offset_scale\" must be \"absolute\" or \"max_abs_ref\", found \"" + s + "\"");
        p.floor_offset_scaled = s == "max_abs_ref";
      }
    } else {
      throw data::InputError(where + ": \"floor\" must be false, true, {\"ulps\"} or {\"factor\", \"offset\", \"offset_scale\"}, found " + f.dump());
    }
  }

  if (j.contains("budgets")) p.budgets_file = string_at(j, "budgets", where);
  if (!j.contains("tensors") || !j["tensors"].is_object() || j["tensors"].empty())
    throw data::InputError(where + ": expected a non-empty object \"tensors\" (out, lse, dq, dk, dv, dk<m>, dv<m>)");
  for (auto it = j["tensors"].begin(); it != j["tensors"].end(); ++it) {
    const std::string key = it.key(), at = where + " tensors." + key;
    if (!valid_rule_key(key))
      throw data::InputError(where + ": unknown tensor name '" + key +
                             "' (expected out, lse, dq, dk, dv, dk<m> or dv<m>)");
    if (!it.value().is_object()) throw data::InputError(at + ": expected an object, found " + it.value().dump());
    TensorRule r;
    if (p.mode == GateProfile::Mode::relative) {
      reject_unknown_keys(it.value(), {"ratio"}, at);
      if (!it.value().contains("ratio")) throw data::InputError(at + ": a relative profile needs \"ratio\"");
      r.ratio = number_at(it.value(), "ratio", at);
    } else {
      reject_unknown_keys(it.value(), {"atol", "atol_scaled"}, at);
      if (!it.value().contains("atol") && !it.value().contains("atol_scaled"))
        throw data::InputError(at + ": an absolute profile needs \"atol\" and/or \"atol_scaled\"");
      if (it.value().contains("atol")) r.atol = number_at(it.value(), "atol", at);
      if (it.value().contains("atol_scaled")) r.atol_scaled = number_at(it.value(), "atol_scaled", at);
    }
    p.rules[key] = r;
  }
  return p;
}

GateProfile load_profile_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw data::InputError("profile " + path.string() + ": cannot open (no such file or not readable)");
  std::ostringstream text;
  text << in.rdbuf();
  GateProfile p = parse_profile(text.str(), "profile " + path.string());
  if (p.name.empty()) p.name = path.stem().string();
  p.source = path.string();
  if (!p.budgets_file.empty()) {
    const std::filesystem::path b = std::filesystem::path(p.budgets_file).is_absolute()
                                        ? std::filesystem::path(p.budgets_file)
                                        : path.parent_path() / p.budgets_file;
    p.budgets = std::make_shared<ErrorBudgets>(load_budgets(b));
  }
  return p;
}

std::vector<std::filesystem::path> profile_search_path() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("ATTN_PROFILE_DIR"); env && *env) dirs.emplace_back(env);
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share" / "attn-harness" / "profiles");
  if (*ATTN_PROFILE_INSTALL_DIR) dirs.emplace_back(ATTN_PROFILE_INSTALL_DIR);
  if (*ATTN_PROFILE_SOURCE_DIR) dirs.emplace_back(ATTN_PROFILE_SOURCE_DIR);
  return dirs;
}

GateProfile find_profile(const std::string& name_or_path) {
  std::error_code ec;
  const std::filesystem::path as_path(name_or_path);
  const bool looks_like_path = name_or_path.find('/') != std::string::npos ||
                               as_path.extension() == ".json" ||
                               std::filesystem::is_regular_file(as_path, ec);
  if (looks_like_path) return load_profile_file(as_path);

  std::set<std::string> found;
  std::string searched;
  for (const auto& dir : profile_search_path()) {
    const auto file = dir / (name_or_path + ".json");
    if (std::filesystem::is_regular_file(file, ec)) return load_profile_file(file);
    searched += (searched.empty() ? "" : ", ") + dir.string();
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().extension() == ".json" && it->path().stem().extension() != ".budgets")
        found.insert(it->path().stem().string());
  }
  std::string names;
  for (const auto& n : found) names += (names.empty() ? "" : ", ") + n;
  throw data::InputError("profile '" + name_or_path + "': no such file, and no shipped profile of that name (searched " +
                         searched + "; found: " + (names.empty() ? "none" : names) + ")");
}

}  // namespace attn::report

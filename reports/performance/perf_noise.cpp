#include "reports/performance/perf_noise.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "datasets/errors.hpp"
#include "reports/performance/perf_controls.hpp"
#include "reports/performance/perf_json_file.hpp"

namespace attn::report {

using nlohmann::json;

double ControlNoise::sigma_for(const BenchKey& k) const {
  const auto it = sigma.find(k.name());
  return it != sigma.end() ? it->second : default_sigma;
}

const ControlNoise* CrossRunNoise::of(const std::string& control) const {
  const auto it = controls.find(control);
  return it != controls.end() ? &it->second : nullptr;
}

namespace {

/// One control's noise from each benchmark's ln(controlled time) over the runs (those with two
/// or more): own sample stddevs, their pooled variance, the moderated sigmas, the default.
ControlNoise moderate(const std::map<std::string, std::vector<double>>& logs) {
  ControlNoise n;
  double pooled_ss = 0, pooled_dof = 0;
  for (const auto& [name, v] : logs) {
    if (v.size() < 2) continue;
    const double sd = sample_stddev(v);
    n.sigma_raw[name] = sd;
    pooled_ss += double(v.size() - 1) * sd * sd;
    pooled_dof += double(v.size() - 1);
  }
  if (n.sigma_raw.empty()) return n;
  const double pooled_var = pooled_ss / pooled_dof;
  n.pooled_sigma = std::sqrt(pooled_var);
  std::vector<double> all;
  for (const auto& [name, sd] : n.sigma_raw) {
    const double nu = double(logs.at(name).size() - 1);
    n.sigma[name] = std::sqrt((kNoisePriorDof * pooled_var + nu * sd * sd) / (kNoisePriorDof + nu));
    all.push_back(n.sigma[name]);
  }
  std::sort(all.begin(), all.end());
  n.default_sigma = all[std::min(all.size() - 1, size_t(std::ceil(0.9 * double(all.size()))) - 1)];
  return n;
}

json control_json(const ControlNoise& n) {
  return {{"sigma", n.sigma}, {"sigma_raw", n.sigma_raw}, {"pooled_sigma", n.pooled_sigma},
          {"default_sigma", n.default_sigma}};
}

}  // namespace

bool CrossRunNoise::measured_from(const PerfRun& run) const {
  std::set<std::string> dates;
  for (const json& r : runs) {
    if (!r.is_object()) continue;
    if (r.contains("dates") && r["dates"].is_array())
      for (const json& d : r["dates"])
        if (d.is_string() && !d.get<std::string>().empty()) dates.insert(d.get<std::string>());
    if (r.contains("date") && r["date"].is_string() && !r["date"].get<std::string>().empty())
      dates.insert(r["date"].get<std::string>());
  }
  for (const PerfSource& s : run.sources)
    if (!s.date.empty() && dates.count(s.date)) return true;
  return false;
}

CrossRunNoise measure_cross_run_noise(const std::vector<const PerfRun*>& runs,
                                      const std::vector<std::vector<std::string>>& files) {
  if (runs.size() < 2)
    throw data::InputError("measuring the noise between runs needs at least two runs of the same "
                           "commit, found " + std::to_string(runs.size()));
  CrossRunNoise n;
  // Per control and benchmark, ln(controlled time) of every run that has it: by floor-sdpa where
  // the run measured the benchmark's same-shape control in its job, by the GEMM rate in every run.
  std::map<std::string, std::map<std::string, std::vector<double>>> logs;
  for (size_t i = 0; i < runs.size(); ++i) {
    const PerfRun& run = *runs[i];
    for (const auto& [key, r] : run.results) {
      const ControlledTime same_shape = controlled_time(run, r);
      const ControlledTime by_gemm = controlled_time(run, r, false);
      for (const ControlledTime* c : {&same_shape, &by_gemm})
        if (std::isfinite(c->value) && c->value > 0 && !c->control.empty() &&
            !(c == &by_gemm && same_shape.control == by_gemm.control))  // the same value: once
          logs[c->control][key.name()].push_back(std::log(c->value));
    }
    const PerfSource* s = run.sources.empty() ? nullptr : &run.sources.front();
    json dates = json::array();
    for (const PerfSource& src : run.sources) dates.push_back(src.date);
    n.runs.push_back({{"files", i < files.size() ? files[i] : std::vector<std::string>{}},
                      {"device", s ? s->device : ""},
                      {"date", s ? s->date : ""},
                      {"dates", dates},
                      {"commit", s ? s->commit : ""}});
  }
  for (const auto& [control, per_bench] : logs) {
    ControlNoise cn = moderate(per_bench);
    if (!cn.sigma.empty()) n.controls[control] = std::move(cn);
  }
  if (n.controls.empty())
    throw data::InputError("no benchmark ran (with a control) in two of the runs: nothing to measure "
                           "the noise between runs on");
  return n;
}

json noise_json(const CrossRunNoise& n) {
  json controls = json::object();
  for (const auto& [name, c] : n.controls) controls[name] = control_json(c);
  return {{"schema", "attn-harness.perf-noise/2"}, {"runs", n.runs}, {"prior_dof", kNoisePriorDof},
          {"controls", controls}};
}

namespace {

std::map<std::string, double> read_sigmas(const json& j, const std::string& key, const std::string& where) {
  std::map<std::string, double> out;
  if (!j.contains(key) || !j[key].is_object())
    throw data::InputError(where + ": missing the object \"" + key + "\"");
  for (const auto& [k, v] : j[key].items()) {
    if (!v.is_number() || !(v.get<double>() >= 0))
      throw data::InputError(where + ": " + key + " of " + k + ": expected a number >= 0, found " + v.dump());
    out[k] = v.get<double>();
  }
  return out;
}

}  // namespace

CrossRunNoise load_cross_run_noise(const std::filesystem::path& path) {
  const std::string where = "noise file " + path.string();
  const json j = read_json_file(path.string(), where);
  const std::string schema = j.is_object() && j.contains("schema") && j["schema"].is_string()
                                 ? j["schema"].get<std::string>() : "";
  if (schema != "attn-harness.perf-noise/2")
    throw data::InputError(where + ": expected \"schema\": \"attn-harness.perf-noise/2\" (written by "
                           "`attn-harness perf-noise`), found " +
                           (schema.empty() ? std::string("none") : "\"" + schema + "\"") +
                           (schema == "attn-harness.perf-noise/1"
                                ? " (one sigma per benchmark whatever its control: run perf-noise again)" : ""));
  CrossRunNoise n;
  n.source = path.string();
  if (!j.contains("controls") || !j["controls"].is_object() || j["controls"].empty())
    throw data::InputError(where + ": expected the object \"controls\" with \"floor-sdpa\" and/or \"gemm\"");
  for (const auto& [name, c] : j["controls"].items()) {
    const std::string at = where + ": controls." + name;
    if (name != "floor-sdpa" && name != "gemm")
      throw data::InputError(at + ": expected the control floor-sdpa or gemm");
    if (!c.is_object()) throw data::InputError(at + ": expected an object");
    ControlNoise cn;
    cn.sigma = read_sigmas(c, "sigma", at);
    cn.sigma_raw = read_sigmas(c, "sigma_raw", at);
    if (!c.contains("default_sigma") || !c["default_sigma"].is_number() || !(c["default_sigma"].get<double>() > 0))
      throw data::InputError(at + ": expected \"default_sigma\" > 0");
    cn.default_sigma = c["default_sigma"].get<double>();
    if (c.contains("pooled_sigma") && c["pooled_sigma"].is_number()) cn.pooled_sigma = c["pooled_sigma"].get<double>();
    n.controls[name] = std::move(cn);
  }
  if (j.contains("runs")) n.runs = j["runs"];
  return n;
}

}  // namespace attn::report

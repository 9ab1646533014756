#include "reports/performance/perf_noise.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "datasets/errors.hpp"
#include "reports/performance/perf_controls.hpp"
#include "reports/performance/perf_json_file.hpp"

namespace attn::report {

using nlohmann::json;

double CrossRunNoise::sigma_for(const BenchKey& k) const {
  const auto it = sigma.find(k.name());
  return it != sigma.end() ? it->second : default_sigma;
}

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
  // Per benchmark, the controlled times of every run: by floor-sdpa where every run that has the
  // benchmark measured it, else all by the GEMM rate (as compare_runs does for a pair).
  std::map<std::string, std::vector<ControlledTime>> same_shape, by_gemm;
  for (size_t i = 0; i < runs.size(); ++i) {
    const PerfRun& run = *runs[i];
    for (const auto& [key, r] : run.results) {
      const ControlledTime c = controlled_time(run, r);
      const ControlledTime g = controlled_time(run, r, false);
      if (std::isfinite(c.value) && c.value > 0) same_shape[key.name()].push_back(c);
      if (std::isfinite(g.value) && g.value > 0) by_gemm[key.name()].push_back(g);
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
  std::map<std::string, std::vector<double>> logs;
  for (const auto& [name, cs] : same_shape) {
    const bool one_control = std::all_of(cs.begin(), cs.end(),
                                         [&](const ControlledTime& c) { return c.control == cs.front().control; });
    const std::vector<ControlledTime>& use = one_control ? cs : by_gemm[name];
    for (const ControlledTime& c : use) logs[name].push_back(std::log(c.value));
  }
  double pooled_ss = 0, pooled_dof = 0;
  for (const auto& [name, v] : logs) {
    if (v.size() < 2) continue;
    const double sd = sample_stddev(v);
    n.sigma_raw[name] = sd;
    pooled_ss += double(v.size() - 1) * sd * sd;
    pooled_dof += double(v.size() - 1);
  }
  if (n.sigma_raw.empty())
    throw data::InputError("no benchmark ran (with a control) in two of the runs: nothing to measure "
                           "the noise between runs on");
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

json noise_json(const CrossRunNoise& n) {
  return {{"schema", "attn-harness.perf-noise/1"},
          {"runs", n.runs},
          {"sigma", n.sigma},
          {"sigma_raw", n.sigma_raw},
          {"pooled_sigma", n.pooled_sigma},
          {"prior_dof", kNoisePriorDof},
          {"default_sigma", n.default_sigma}};
}

CrossRunNoise load_cross_run_noise(const std::filesystem::path& path) {
  const json j = read_json_file(path.string(), "noise file " + path.string());
  const std::string where = "noise file " + path.string();
  if (!j.is_object() || j.value("schema", "") != "attn-harness.perf-noise/1")
    throw data::InputError(where + ": expected \"schema\": \"attn-harness.perf-noise/1\" (written by "
                           "`attn-harness perf-noise`)");
  CrossRunNoise n;
  n.source = path.string();
  if (!j.contains("sigma") || !j["sigma"].is_object())
    throw data::InputError(where + ": missing the object \"sigma\"");
  for (const auto& [k, v] : j["sigma"].items()) {
    if (!v.is_number() || !(v.get<double>() >= 0))
      throw data::InputError(where + ": sigma of " + k + ": expected a number >= 0, found " + v.dump());
    n.sigma[k] = v.get<double>();
  }
  if (!j.contains("default_sigma") || !j["default_sigma"].is_number() || !(j["default_sigma"].get<double>() > 0))
    throw data::InputError(where + ": expected \"default_sigma\" > 0");
  n.default_sigma = j["default_sigma"].get<double>();
  if (j.contains("runs")) n.runs = j["runs"];
  if (j.contains("sigma_raw") && j["sigma_raw"].is_object())
    for (const auto& [k, v] : j["sigma_raw"].items())
      if (v.is_number()) n.sigma_raw[k] = v.get<double>();
  if (j.contains("pooled_sigma") && j["pooled_sigma"].is_number()) n.pooled_sigma = j["pooled_sigma"].get<double>();
  return n;
}

}  // namespace attn::report

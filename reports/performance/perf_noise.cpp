#include "reports/performance/perf_noise.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "datasets/errors.hpp"
#include "reports/performance/perf_controls.hpp"
#include "reports/performance/perf_json_file.hpp"

namespace attn::report {

using nlohmann::json;

double ControlNoise::sigma_for(const BenchKey& k) const {
  const auto it = sigma.find(k.name());
  if (it != sigma.end()) return it->second;
  const auto pooled = pooled_sigma_by_L.find(k.L);
  return pooled != pooled_sigma_by_L.end() ? pooled->second : default_sigma;
}

const ControlNoise* CrossRunNoise::of(const std::string& control) const {
  const auto it = controls.find(control);
  return it != controls.end() ? &it->second : nullptr;
}

std::pair<double, std::string> CrossRunNoise::sigma_for(const std::string& control, const BenchKey& k) const {
  const ControlNoise* c = of(control);
  if (c && c->has_own(k)) return {c->sigma.at(k.name()), "own"};
  if (c && c->pooled_sigma_by_L.count(k.L)) return {c->pooled_sigma_by_L.at(k.L), "pool of L"};
  const ControlNoise* gemm = control == "floor-sdpa" ? of("gemm") : nullptr;
  if (gemm && gemm->pooled_sigma_by_L.count(k.L)) return {gemm->pooled_sigma_by_L.at(k.L), "GEMM pool of L"};
  if (c) return {c->default_sigma, "default"};
  return {std::numeric_limits<double>::quiet_NaN(), ""};
}

namespace {

/// A benchmark's ln(controlled time) in every run that has it, and its sequence length.
struct BenchLogs {
  std::int64_t L = 0;
  std::vector<double> logs;
};

/// One control's noise from each benchmark's ln(controlled time) over the runs (those with two
/// or more): own sample stddevs, their pooled variance per L, the moderated sigmas, the default.
ControlNoise moderate(const std::map<std::string, BenchLogs>& per_bench) {
  ControlNoise n;
  std::map<std::int64_t, std::pair<double, double>> pool;  // L -> (sum nu s^2, sum nu)
  for (const auto& [name, b] : per_bench) {
    if (b.logs.size() < 2) continue;
    const double sd = sample_stddev(b.logs), nu = double(b.logs.size() - 1);
    n.sigma_raw[name] = sd;
    pool[b.L].first += nu * sd * sd;
    pool[b.L].second += nu;
  }
  if (n.sigma_raw.empty()) return n;
  for (const auto& [L, p] : pool) n.pooled_sigma_by_L[L] = std::sqrt(p.first / p.second);
  std::vector<double> all;
  for (const auto& [name, sd] : n.sigma_raw) {
    const BenchLogs& b = per_bench.at(name);
    const double nu = double(b.logs.size() - 1), prior = n.pooled_sigma_by_L.at(b.L);
    n.sigma[name] = std::sqrt((kNoisePriorDof * prior * prior + nu * sd * sd) / (kNoisePriorDof + nu));
    all.push_back(n.sigma[name]);
  }
  std::sort(all.begin(), all.end());
  n.default_sigma = all[std::min(all.size() - 1, size_t(std::ceil(0.9 * double(all.size()))) - 1)];
  return n;
}

json control_json(const ControlNoise& n) {
  json by_L = json::object();
  for (const auto& [L, v] : n.pooled_sigma_by_L) by_L[std::to_string(L)] = v;
  return {{"sigma", n.sigma}, {"sigma_raw", n.sigma_raw}, {"pooled_sigma_by_L", by_L},
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
  std::map<std::string, std::map<std::string, BenchLogs>> logs;
  for (size_t i = 0; i < runs.size(); ++i) {
    const PerfRun& run = *runs[i];
    for (const auto& [key, r] : run.results) {
      const ControlledTime same_shape = controlled_time(run, r);
      const ControlledTime by_gemm = controlled_time(run, r, false);
      // Without a same-shape control both are the GEMM-controlled time: it counts once.
      const bool same = same_shape.control == by_gemm.control;
      for (const ControlledTime* c : {&same_shape, &by_gemm}) {
        if (!std::isfinite(c->value) || !(c->value > 0) || c->control.empty() || (c == &by_gemm && same)) continue;
        BenchLogs& b = logs[c->control][key.name()];
        b.L = key.L;
        b.logs.push_back(std::log(c->value));
      }
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
    if (!c.contains("default_sigma") || !c["default_sigma"].is_number() || !(c["default_sigma"].get<double>() >= 0))
      throw data::InputError(at + ": expected \"default_sigma\" >= 0");
    cn.default_sigma = c["default_sigma"].get<double>();
    if (!c.contains("pooled_sigma_by_L") || !c["pooled_sigma_by_L"].is_object())
      throw data::InputError(at + ": missing the object \"pooled_sigma_by_L\"");
    for (const auto& [L, v] : c["pooled_sigma_by_L"].items()) {
      char* end = nullptr;
      const long long len = std::strtoll(L.c_str(), &end, 10);
      if (L.empty() || *end != '\0' || len <= 0 || !v.is_number() || !(v.get<double>() >= 0))
        throw data::InputError(at + ": pooled_sigma_by_L: expected a positive L and a number >= 0, found \"" + L +
                               "\": " + v.dump());
      cn.pooled_sigma_by_L[len] = v.get<double>();
    }
    n.controls[name] = std::move(cn);
  }
  if (j.contains("runs")) n.runs = j["runs"];
  return n;
}

}  // namespace attn::report

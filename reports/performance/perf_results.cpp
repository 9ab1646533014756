#include "reports/performance/perf_results.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <sstream>

#include "datasets/errors.hpp"
#include "reports/performance/perf_json_file.hpp"
#include "reports/performance/perf_palette.hpp"
#include "reports/performance/perf_shards.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int workload_rank(const std::string& w) {
  static const char* kOrder[] = {"train_step", "fwd", "bwd", "train_step_padded"};
  for (int i = 0; i < 4; ++i)
    if (w == kOrder[i]) return i;
  return 4;
}

int backend_rank(const std::string& b) {
  const auto& order = known_backends();
  return int(std::find(order.begin(), order.end(), b) - order.begin());
}

bool parse_int(const std::string& s, std::int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  out = std::stoll(s);
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

RunStatus classify_failure(const std::string& message, bool skipped) {
  const std::string m = lower(message);
  if (m.rfind("oom", 0) == 0 || m.find("out of memory") != std::string::npos) return RunStatus::oom;
  if (m.rfind("skipped:", 0) == 0) return RunStatus::not_run;
  if (skipped || m.rfind("unsupported", 0) == 0) return RunStatus::unsupported;
  return RunStatus::error;
}

double ms_per_unit(const std::string& unit, const std::string& where) {
  if (unit == "ns") return 1e-6;
  if (unit == "us") return 1e-3;
  if (unit == "ms") return 1.0;
  if (unit == "s") return 1e3;
  throw data::InputError(where + ": time_unit \"" + unit + "\" is not one of ns, us, ms, s");
}

// "an object", "an array", "a string", ...
std::string a_type(const json& j) {
  const std::string t = j.type_name();
  return (t == "object" || t == "array" ? "an " : t == "null" ? "" : "a ") + t;
}

std::string string_or(const json& j, const char* key, const std::string& fallback = "") {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

double number_or(const json& j, const char* key, double fallback = kNaN) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

// A number, or a string holding one (Google Benchmark's custom context is string-valued: the
// bench runner's gemm_bf16_tflops arrives as "793.198").
double number_or_numeric_string(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it != j.end() && it->is_string()) {
    const std::string s = it->get<std::string>();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    return !s.empty() && end == s.c_str() + s.size() ? v : kNaN;
  }
  return number_or(j, key);
}

bool truthy(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() != 0;
  if (it->is_string()) return !it->get<std::string>().empty();  // 1.8: "skipped": "error"...
  return false;
}

const char* const kCounters[] = {"TFLOPS", "gemm_TFLOPS", "pct_of_gemm", "peak_mem_GiB", "compile_s",
                                 "B", "H", "Hkv", "D", "L", "T"};

// Everything one file says about one benchmark, before the statistics.
struct Accumulator {
  std::string display_name;
  std::vector<double> samples_ms;
  std::map<std::string, std::vector<double>> counters;  // per successful repetition
  std::map<std::string, json> aggregates;                // aggregate_name -> entry
  std::map<std::string, double> aggregate_ms;            // aggregate_name -> real_time in ms
  std::string failure;
  bool failed = false, skipped = false;
  int order = 0;
};

double counter_value(const Accumulator& a, const std::string& name) {
  const auto it = a.counters.find(name);
  if (it != a.counters.end() && !it->second.empty()) {
    if (name == "peak_mem_GiB" || name == "compile_s")
      return *std::max_element(it->second.begin(), it->second.end());
    return median_of(it->second);
  }
  for (const char* agg : {"median", "mean"}) {
    const auto a_it = a.aggregates.find(agg);
    if (a_it != a.aggregates.end()) return number_or(a_it->second, name.c_str());
  }
  return kNaN;
}

PerfResult finish(const BenchKey& key, const Accumulator& a, const std::string& source) {
  PerfResult r;
  r.key = key;
  r.source = source;
  r.samples_ms = a.samples_ms;
  r.repetitions = int(a.samples_ms.size());
  auto agg = [&](const char* n) {
    const auto it = a.aggregate_ms.find(n);
    return it == a.aggregate_ms.end() ? kNaN : it->second;
  };
  r.median_ms = agg("median");
  if (std::isnan(r.median_ms)) r.median_ms = median_of(a.samples_ms);
  if (std::isnan(r.median_ms)) r.median_ms = agg("mean");
  r.mean_ms = agg("mean");
  if (std::isnan(r.mean_ms) && !a.samples_ms.empty())
    r.mean_ms = std::accumulate(a.samples_ms.begin(), a.samples_ms.end(), 0.0) / double(a.samples_ms.size());
  r.stddev_ms = agg("stddev");
  if (std::isnan(r.stddev_ms)) r.stddev_ms = sample_stddev(a.samples_ms);
  r.noise_measured = std::isfinite(r.stddev_ms);
  if (a.samples_ms.empty()) {
    r.min_ms = r.max_ms = kNaN;
  } else {
    const auto mm = std::minmax_element(a.samples_ms.begin(), a.samples_ms.end());
    r.min_ms = *mm.first;
    r.max_ms = *mm.second;
  }
  r.tflops = counter_value(a, "TFLOPS");
  r.gemm_tflops = counter_value(a, "gemm_TFLOPS");
  r.pct_of_gemm = counter_value(a, "pct_of_gemm");
  if (std::isnan(r.pct_of_gemm) && r.gemm_tflops > 0) r.pct_of_gemm = 100.0 * r.tflops / r.gemm_tflops;
  r.peak_mem_gib = counter_value(a, "peak_mem_GiB");
  r.peak_mem_spread_gib = 0;
  if (const auto it = a.counters.find("peak_mem_GiB"); it != a.counters.end() && it->second.size() > 1) {
    const auto mm = std::minmax_element(it->second.begin(), it->second.end());
    r.peak_mem_spread_gib = *mm.second - *mm.first;
  }
  r.compile_s = counter_value(a, "compile_s");
  r.B = counter_value(a, "B");
  r.H = counter_value(a, "H");
  r.Hkv = counter_value(a, "Hkv");
  r.D = counter_value(a, "D");
  if (a.failed) {
    r.status = classify_failure(a.failure, a.skipped);
    r.message = a.failure;
  }
  return r;
}

void require_object_key(const json& doc, const char* key, json::value_t type, const char* what,
                        const std::string& source) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->type() != type) {
    std::string found;
    for (auto k = doc.begin(); k != doc.end(); ++k) found += (found.empty() ? "" : ", ") + k.key();
    throw data::InputError(source + ": not Google Benchmark JSON: expected a \"" + key + "\" " + what +
                           (it == doc.end() ? ", found top-level keys [" + found + "]"
                                            : ", found " + a_type(*it)));
  }
}

}  // namespace

std::string BenchKey::name() const {
  if (!structured()) return workload;
  return workload + "/" + backend + "/" + preset + "/L:" + std::to_string(L) + "/T:" + std::to_string(T);
}

bool operator<(const BenchKey& a, const BenchKey& b) {
  return std::make_tuple(workload_rank(a.workload), a.workload, a.preset, backend_rank(a.backend),
                         a.backend, a.T, a.L) <
         std::make_tuple(workload_rank(b.workload), b.workload, b.preset, backend_rank(b.backend),
                         b.backend, b.T, b.L);
}

bool operator==(const BenchKey& a, const BenchKey& b) {
  return a.workload == b.workload && a.backend == b.backend && a.preset == b.preset && a.L == b.L &&
         a.T == b.T;
}

const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::ok: return "ok";
    case RunStatus::oom: return "OOM";
    case RunStatus::unsupported: return "unsupported";
    case RunStatus::error: return "error";
    case RunStatus::not_run: return "not run";
  }
  return "?";
}

const PerfResult* PerfRun::find(const BenchKey& k) const {
  const auto it = results.find(k);
  return it == results.end() ? nullptr : &it->second;
}

const PerfResult* PerfRun::find(const std::string& workload, const std::string& backend,
                                const std::string& preset, std::int64_t L, std::int64_t T) const {
  BenchKey k;
  k.workload = workload;
  k.backend = backend;
  k.preset = preset;
  k.L = L;
  k.T = T;
  return find(k);
}

std::string PerfRun::job_of(const PerfResult& r) const {
  for (const PerfSource& s : sources)
    if (s.path == r.source) return s.shard;
  return "";
}

bool parse_bench_name(const std::string& name, BenchKey& key) {
  std::vector<std::string> tokens;
  std::stringstream ss(name);
  for (std::string t; std::getline(ss, t, '/');) tokens.push_back(t);
  if (tokens.size() < 3) return false;
  BenchKey k;
  k.workload = tokens[0];
  k.backend = tokens[1];
  k.preset = tokens[2];
  for (const std::string& part : {k.workload, k.backend, k.preset})
    if (part.empty() || part.find(':') != std::string::npos) return false;
  bool have_l = false, have_t = false;
  for (std::size_t i = 3; i < tokens.size(); ++i) {
    if (tokens[i].rfind("L:", 0) == 0) have_l = parse_int(tokens[i].substr(2), k.L);
    if (tokens[i].rfind("T:", 0) == 0) have_t = parse_int(tokens[i].substr(2), k.T);
  }
  if (!have_l || !have_t) return false;
  key = k;
  return true;
}

double median_of(std::vector<double> v) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double sample_stddev(const std::vector<double>& v) {
  if (v.size() < 2) return kNaN;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / double(v.size() - 1));
}

void add_benchmark_json(PerfRun& run, const json& doc, const std::string& source) {
  if (!doc.is_object())
    throw data::InputError(source + ": not Google Benchmark JSON: expected an object with \"context\" and "
                           "\"benchmarks\", found " + a_type(doc));
  require_object_key(doc, "context", json::value_t::object, "object", source);
  require_object_key(doc, "benchmarks", json::value_t::array, "array", source);

  const json& ctx = doc["context"];
  PerfSource src;
  src.path = source;
  src.date = string_or(ctx, "date");
  src.host_name = string_or(ctx, "host_name");
  src.executable = string_or(ctx, "executable");
  src.device = string_or(ctx, "device");
  src.torch_version = string_or(ctx, "torch_version");
  src.commit = string_or(ctx, "commit");
  src.build_type = string_or(ctx, "library_build_type");
  src.shard = string_or(ctx, "shard");
  src.gemm_bf16_tflops = number_or_numeric_string(ctx, "gemm_bf16_tflops");

  // Group this file's entries by benchmark.
  std::map<BenchKey, Accumulator> acc;
  int index = -1, order = 0;
  for (const json& e : doc["benchmarks"]) {
    ++index;
    const std::string where = source + ": benchmarks[" + std::to_string(index) + "]";
    if (!e.is_object()) throw data::InputError(where + ": expected an object, found " + a_type(e));
    const std::string name = string_or(e, "name");
    if (name.empty()) throw data::InputError(where + ": no \"name\" string");
    const std::string aggregate = string_or(e, "aggregate_name");
    const bool is_aggregate = !aggregate.empty() || string_or(e, "run_type") == "aggregate";
    std::string run_name = string_or(e, "run_name");
    if (run_name.empty()) {
      run_name = name;
      const std::string suffix = "_" + aggregate;
      if (!aggregate.empty() && run_name.size() > suffix.size() &&
          run_name.compare(run_name.size() - suffix.size(), suffix.size(), suffix) == 0)
        run_name.resize(run_name.size() - suffix.size());
    }
    BenchKey key;
    if (!parse_bench_name(run_name, key)) {
      key = BenchKey{};
      key.workload = run_name;
      if (!acc.count(key))
        run.warnings.push_back(source + ": \"" + run_name +
                               "\" is not <workload>/<backend>/<preset>/L:<n>/T:<n>; listed, not charted");
    }
    Accumulator& a = acc[key];
    if (a.display_name.empty()) {
      a.display_name = run_name;
      a.order = order++;
    }
    const bool skipped = truthy(e, "skipped") && !truthy(e, "error_occurred");
    const std::string message = string_or(e, "error_message", string_or(e, "skip_message"));
    const bool has_time = e.contains("real_time") && e["real_time"].is_number();
    if (truthy(e, "error_occurred") || skipped || (!message.empty() && !has_time)) {
      if (!a.failed) a.failure = message.empty() ? "error (no message)" : message;
      a.failed = true;
      a.skipped = a.skipped || skipped;
      continue;
    }
    if (!has_time) throw data::InputError(where + " (" + name + "): no numeric \"real_time\" and no error_message");
    const double scale = ms_per_unit(string_or(e, "time_unit", "ns"), where + " (" + name + ")");
    if (is_aggregate) {
      if (aggregate.empty()) throw data::InputError(where + " (" + name + "): aggregate without \"aggregate_name\"");
      a.aggregates[aggregate] = e;
      // cv is a fraction, not a time; other aggregates (mean, median, stddev, min, max) are times.
      if (aggregate != "cv" && string_or(e, "aggregate_unit", "time") == "time")
        a.aggregate_ms[aggregate] = e["real_time"].get<double>() * scale;
      continue;
    }
    a.samples_ms.push_back(e["real_time"].get<double>() * scale);
    for (const char* c : kCounters)
      if (const double v = number_or(e, c); std::isfinite(v)) a.counters[c].push_back(v);
  }

  std::vector<std::pair<int, BenchKey>> in_order;
  for (const auto& [key, a] : acc) in_order.emplace_back(a.order, key);
  std::sort(in_order.begin(), in_order.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [unused, key] : in_order) {
    const Accumulator& a = acc.at(key);
    if (!a.failed && a.samples_ms.empty() && a.aggregate_ms.count("median") == 0 &&
        a.aggregate_ms.count("mean") == 0)
      throw data::InputError(source + ": " + a.display_name + ": neither repetitions nor a median/mean aggregate");
    PerfResult r = finish(key, a, source);
    if (key.structured()) {
      if (std::find(run.presets.begin(), run.presets.end(), key.preset) == run.presets.end())
        run.presets.push_back(key.preset);
    }
    if (const auto old = run.results.find(key); old != run.results.end()) {
      run.warnings.push_back(source + ": " + key.name() + " replaces the one from " + old->second.source);
      old->second = std::move(r);
    } else {
      run.results.emplace(key, std::move(r));
    }
    ++src.benchmarks;
  }
  if (src.benchmarks == 0) run.warnings.push_back(source + ": no benchmarks");
  run.sources.push_back(src);
}

PerfRun load_perf_results(const std::vector<std::string>& paths) {
  if (paths.empty()) throw data::InputError("no benchmark JSON file given");
  PerfRun run;
  for (const std::string& path : paths) {
    add_benchmark_json(run, read_json_file(path), path);
  }
  for (std::string& note : shard_notes(run.sources)) run.warnings.push_back(std::move(note));
  if (run.results.empty()) {
    std::string list;
    for (const auto& p : paths) list += (list.empty() ? "" : ", ") + p;
    throw data::InputError("no benchmarks in " + list);
  }
  return run;
}

}  // namespace attn::report

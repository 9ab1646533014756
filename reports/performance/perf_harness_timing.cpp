#include "reports/performance/perf_harness_timing.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "datasets/errors.hpp"
#include "reports/detail/number_format.hpp"
#include "reports/performance/perf_json_file.hpp"
#include "reports/performance/perf_results.hpp"
#include "reports/performance/perf_time_format.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using detail::fixed;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kLimit = 0.20;        // a step must change by more than 20 %...
constexpr double kMemoryFloorGiB = 0.05;  // ...and its peak memory by more than this
const std::string kSchema = "attn-harness.time-to-verdict/";

std::string found(const json& j) { return j.is_null() ? "nothing" : std::string(j.type_name()) + " " + j.dump().substr(0, 40); }

const json& require(const json& obj, const char* key, bool (json::*is)() const noexcept, const char* expected,
                    const std::string& where) {
  static const json kNull;
  const auto it = obj.find(key);
  const json& v = it == obj.end() ? kNull : *it;
  if (!(v.*is)())
    throw data::InputError(where + ": expected \"" + key + "\" as " + expected + ", found " + found(v));
  return v;
}

std::string str_or(const json& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return "";
}

std::int64_t int_or(const json& obj, const char* key) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

double range_lo(const std::vector<double>& v) { return v.empty() ? kNaN : *std::min_element(v.begin(), v.end()); }
double range_hi(const std::vector<double>& v) { return v.empty() ? kNaN : *std::max_element(v.begin(), v.end()); }

std::vector<double> total_samples(const HarnessTiming& h) {
  if (h.steps.empty()) return {};
  const std::size_t n = h.steps.front().samples.size();
  for (const auto& s : h.steps)
    if (s.samples.size() != n) return {h.total_seconds};
  std::vector<double> out(n, 0.0);
  for (const auto& s : h.steps)
    for (std::size_t i = 0; i < n; ++i) out[i] += s.samples[i];
  return out;
}

TimingVerdict judge_memory(double old_gib, double new_gib) {
  if (!(old_gib > 0) || !(new_gib > 0)) return TimingVerdict::not_compared;
  if (new_gib / old_gib - 1 > kLimit && new_gib - old_gib > kMemoryFloorGiB) return TimingVerdict::slower;
  if (old_gib / new_gib - 1 > kLimit && old_gib - new_gib > kMemoryFloorGiB) return TimingVerdict::faster;
  return TimingVerdict::same;
}

std::string seconds_text(double s) { return std::isfinite(s) ? fixed(s, s < 10 ? 2 : 1) : "–"; }

}  // namespace

std::string HarnessTiming::case_label() const {
  std::string s = preset + ", L " + std::to_string(L) + ", B " + std::to_string(B) + ", t " + std::to_string(t);
  if (!pad.empty()) s += ", pad " + pad;
  if (!device.empty()) s += ", " + device;
  if (!backends.empty()) s += ": " + backends;
  return s;
}

std::string HarnessTiming::machine_label() const {
  std::string s = cpu.empty() ? "unknown CPU" : cpu;
  std::string extra;
  if (cores > 0) extra = std::to_string(cores) + " cores";
  if (!machine.empty()) extra += (extra.empty() ? "" : ", ") + machine;
  if (!extra.empty()) s += " (" + extra + ")";
  if (!gpu.empty()) s += ", " + gpu;
  return s;
}

bool is_harness_timing_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  const json doc = json::parse(in, nullptr, false);
  if (!doc.is_object()) return false;
  const auto it = doc.find("schema");
  return it != doc.end() && it->is_string() && it->get<std::string>().rfind(kSchema, 0) == 0;
}

HarnessTiming load_harness_timing(const std::filesystem::path& path, const std::string& display) {
  const std::string where = path.string();
  const json doc = read_json_file(where);
  if (!doc.is_object()) throw data::InputError(where + ": expected a time-to-verdict object, found " + found(doc));
  const std::string schema = require(doc, "schema", &json::is_string, "a string", where).get<std::string>();
  HarnessTiming h;
  if (schema == kSchema + "1") h.schema = 1;
  else if (schema == kSchema + "2") h.schema = 2;
  else
    throw data::InputError(where + ": expected schema \"" + kSchema + "1\" or \"" + kSchema +
                           "2\" (scripts/time_to_verdict.py --json), found \"" + schema + "\"");
  h.source = display;
  const json& c = require(doc, "case", &json::is_object, "an object", where);
  h.preset = str_or(c, "preset");
  h.pad = str_or(c, "pad");
  h.device = str_or(c, "device");
  h.backends = str_or(c, "backends");
  h.L = int_or(c, "L");
  h.B = int_or(c, "B");
  h.t = int_or(c, "t");
  const json& steps = require(doc, "steps", &json::is_array, "an array", where);
  if (steps.empty()) throw data::InputError(where + ": expected one or more \"steps\", found an empty array");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string at = where + ": steps[" + std::to_string(i) + "]";
    if (!steps[i].is_object()) throw data::InputError(at + ": expected an object, found " + found(steps[i]));
    HarnessStep s;
    s.name = require(steps[i], "name", &json::is_string, "a string", at).get<std::string>();
    s.seconds = require(steps[i], "seconds", &json::is_number, "a number", at).get<double>();
    s.max_rss_gib = require(steps[i], "max_rss_bytes", &json::is_number, "a number", at).get<double>() / double(1ull << 30);
    s.exit_code = int(int_or(steps[i], "exit_code"));
    if (const auto it = steps[i].find("samples"); it != steps[i].end()) {
      if (!it->is_array()) throw data::InputError(at + ": expected \"samples\" as an array of seconds, found " + found(*it));
      for (const json& x : *it) {
        if (!x.is_number()) throw data::InputError(at + ": expected \"samples\" as numbers, found " + found(x));
        s.samples.push_back(x.get<double>());
      }
    }
    if (s.samples.empty()) s.samples = {s.seconds};
    h.steps.push_back(std::move(s));
  }
  h.total_seconds = doc.contains("total_seconds") && doc["total_seconds"].is_number() ? doc["total_seconds"].get<double>() : 0;
  if (!(h.total_seconds > 0))
    for (const auto& s : h.steps) h.total_seconds += s.seconds;
  h.case_gib = double(int_or(doc, "case_bytes")) / double(1ull << 30);
  h.repeat = std::max<int>(1, int(int_or(doc, "repeat")));
  h.date = str_or(doc, "date");
  h.commit = str_or(doc, "commit");
  if (const auto it = doc.find("host"); it != doc.end() && it->is_object()) {
    h.cpu = str_or(*it, "cpu");
    h.machine = str_or(*it, "machine");
    h.gpu = str_or(*it, "gpu");
    h.cores = int(int_or(*it, "cores"));
  }
  return h;
}

const char* timing_verdict_name(TimingVerdict v) {
  switch (v) {
    case TimingVerdict::same: return "within 20 %";
    case TimingVerdict::slower: return "slower";
    case TimingVerdict::faster: return "faster";
    case TimingVerdict::not_compared: return "not compared";
  }
  return "?";
}

TimingVerdict judge_step_time(const std::vector<double>& o, const std::vector<double>& n) {
  const double mo = median_of(o), mn = median_of(n);
  if (!(mo > 0) || !(mn > 0)) return TimingVerdict::not_compared;
  const bool ranges = o.size() >= 2 && n.size() >= 2;
  if (mn / mo - 1 > kLimit && (!ranges || range_lo(n) > range_hi(o))) return TimingVerdict::slower;
  if (mo / mn - 1 > kLimit && (!ranges || range_hi(n) < range_lo(o))) return TimingVerdict::faster;
  return TimingVerdict::same;
}

std::string harness_mismatch(const HarnessTiming& b, const HarnessTiming& n) {
  if (b.case_label() != n.case_label()) return "another case (" + b.case_label() + ")";
  if (b.cpu != n.cpu || b.cores != n.cores || b.gpu != n.gpu) return "another machine (" + b.machine_label() + ")";
  return "";
}

std::vector<TimingChange> compare_harness(const HarnessTiming& before, const HarnessTiming& now) {
  std::vector<TimingChange> out;
  const bool comparable = harness_mismatch(before, now).empty();
  auto add = [&](const std::string& name, const std::vector<double>* o, const std::vector<double>& n, double old_gib,
                 double new_gib) {
    TimingChange c;
    c.step = name;
    c.new_s = median_of(n);
    c.new_gib = new_gib;
    c.old_s = o ? median_of(*o) : kNaN;
    c.old_gib = o ? old_gib : kNaN;
    c.change_pct = o && c.old_s > 0 ? 100 * (c.new_s / c.old_s - 1) : kNaN;
    if (comparable && o) {
      c.time = judge_step_time(*o, n);
      c.memory = judge_memory(old_gib, new_gib);
    }
    out.push_back(c);
  };
  for (const HarnessStep& s : now.steps) {
    const auto it = std::find_if(before.steps.begin(), before.steps.end(), [&](const auto& x) { return x.name == s.name; });
    add(s.name, it == before.steps.end() ? nullptr : &it->samples, s.samples, it == before.steps.end() ? kNaN : it->max_rss_gib,
        s.max_rss_gib);
  }
  bool same_steps = before.steps.size() == now.steps.size();
  for (std::size_t i = 0; same_steps && i < now.steps.size(); ++i) same_steps = before.steps[i].name == now.steps[i].name;
  const std::vector<double> old_total = total_samples(before);
  add("total", same_steps ? &old_total : nullptr, total_samples(now), kNaN, kNaN);
  return out;
}

int harness_regressions(const HarnessTiming& before, const HarnessTiming& now) {
  int n = 0;
  for (const TimingChange& c : compare_harness(before, now))
    if (c.step != "total" && (c.time == TimingVerdict::slower || c.memory == TimingVerdict::slower)) ++n;
  return n;
}

PerfTable harness_timing_table(const HarnessTiming& now, const HarnessTiming* before) {
  PerfTable t;
  t.title = "Time to a verdict: " + now.case_label();
  t.note = "Each step is one attn-harness process (scripts/time_to_verdict.py" +
           (now.repeat > 1 ? ", median of " + std::to_string(now.repeat) + " repetitions" : std::string(", one repetition")) +
           ") on " + now.machine_label() + (now.date.empty() ? "" : ", " + display_time(now.date)) +
           (now.commit.empty() ? "" : ", attn-harness " + now.commit) + "; peak memory is the largest resident set (RSS). From " +
           now.source + ".";
  std::string mismatch;
  if (before) {
    mismatch = harness_mismatch(*before, now);
    t.note += " Previous: " + before->source + (before->date.empty() ? "" : ", " + display_time(before->date)) + ". " +
              (mismatch.empty() ? "A step is flagged slower (or faster) when its median changes by more than 20 % and, "
                                  "with repetitions in both runs, their ranges do not overlap; memory when it changes "
                                  "by more than 20 % and 0.05 GiB."
                                : "Not compared: the previous file is of " + mismatch + ".");
  }
  t.header = {"step", "seconds", "range s", "peak GiB"};
  if (before) t.header.insert(t.header.end(), {"previous s", "change", "time", "previous GiB", "memory"});
  std::vector<TimingChange> changes;
  if (before) changes = compare_harness(*before, now);
  auto tone = [](TimingVerdict v) {
    return v == TimingVerdict::slower ? CellTone::bad : v == TimingVerdict::faster ? CellTone::good : CellTone::muted;
  };
  auto row_of = [&](const std::string& name, double s, const std::vector<double>& samples, double gib) {
    std::vector<PerfCell> row{{name}, {seconds_text(s)},
                              {samples.size() >= 2 ? seconds_text(range_lo(samples)) + "–" + seconds_text(range_hi(samples))
                                                   : std::string("–")},
                              {std::isfinite(gib) ? fixed(gib, 2) : "–"}};
    if (before) {
      const auto it = std::find_if(changes.begin(), changes.end(), [&](const auto& c) { return c.step == name; });
      if (it == changes.end() || !std::isfinite(it->old_s)) {
        row.insert(row.end(), {{"–", CellTone::muted}, {"–", CellTone::muted}, {"not compared", CellTone::muted},
                               {"–", CellTone::muted}, {"–", CellTone::muted}});
      } else {
        row.push_back({seconds_text(it->old_s)});
        row.push_back({(it->change_pct > 0 ? "+" : "") + fixed(it->change_pct, 1) + " %"});
        row.push_back({timing_verdict_name(it->time), tone(it->time)});
        row.push_back({std::isfinite(it->old_gib) ? fixed(it->old_gib, 2) : "–"});
        row.push_back({name == "total" ? "–" : timing_verdict_name(it->memory), tone(it->memory)});
      }
    }
    t.rows.push_back(std::move(row));
  };
  for (const HarnessStep& s : now.steps) row_of(s.name, s.seconds, s.samples, s.max_rss_gib);
  row_of("total", median_of(total_samples(now)), total_samples(now), kNaN);
  return t;
}

}  // namespace attn::report

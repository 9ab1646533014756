#include "harness/selftest/calibration_formats.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace attn::cli::selftest {
namespace {

std::string num(double x) {
  if (std::isinf(x)) return "inf";
  if (std::isnan(x)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, (x != 0 && (std::fabs(x) >= 1000 || std::fabs(x) < 0.01)) ? "%.2e" : "%.3f", x);
  return buf;
}

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.insert(0, w - s.size(), ' ');
  return s + " ";
}

std::string lpad(std::string s, size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s + " ";
}

}  // namespace

std::string format_calibration_text(const CalibrationResult& r) {
  std::ostringstream o;
  o << "attn-harness calibrate on " << r.device << ": " << r.real << " against the fp64 reference, "
    << "baseline " << r.baseline << ", profile " << r.profile << ", grad_out scale " << num(r.grad_scale)
    << ", " << r.cases.size() << " cases\n\n";
  o << lpad("kind", 5) << pad("n", 4) << "| " << pad("err_c/err_b: min", 16) << pad("median", 8)
    << pad("p95", 8) << pad("max", 8) << "| " << pad("use: min", 9) << pad("median", 8) << pad("p95", 8)
    << pad("max", 8) << "| " << pad("margin", 8) << " worst (case:tensor)\n";
  for (const KindCalibration& k : r.kinds)
    o << lpad(k.kind, 5) << pad(std::to_string(k.ratio.n), 4) << "| " << pad(num(k.ratio.min), 16)
      << pad(num(k.ratio.median), 8) << pad(num(k.ratio.p95), 8) << pad(num(k.ratio.max), 8) << "| "
      << pad(num(k.use.min), 9) << pad(num(k.use.median), 8) << pad(num(k.use.p95), 8)
      << pad(num(k.use.max), 8) << "| " << pad(num(k.margin) + "x", 8) << " " << k.worst << "\n";
  o << "\nuse = err_c / threshold (the gate passes at <= 1); margin = 1 / max use: every threshold "
       "could shrink by this factor before the real path raised a false alarm on these cases.\n";
  o << "Margin to a false alarm: " << num(r.margin) << "x (" << r.margin_where << "); the real path "
    << "fails the gate on " << r.real_failures << "/" << r.cases.size() << " cases.\n";
  if (!r.mutants.empty()) {
    o << "\nMutants on the same cases (per case: the largest use over tensors; flagged when > 1). "
         "max use = the factor by which every threshold would have to grow before the mutant "
         "escapes on all cases; weakest flag = the smallest per-case use among flagged cases.\n";
    size_t w = 8;
    for (const auto& m : r.mutants) w = std::max(w, m.name.size());
    o << lpad("mutant", w) << pad("flagged", 8) << pad("weakest flag", 12) << pad("median use", 11)
      << pad("max use", 9) << " where\n";
    for (const auto& m : r.mutants)
      o << lpad(m.name, w) << pad(std::to_string(m.flagged) + "/" + std::to_string(m.cases), 8)
        << pad(m.flagged ? num(m.weakest_flag) : "-", 12) << pad(num(m.median_use), 11)
        << pad(num(m.max_use), 9) << " " << m.max_where << "\n";
  }
  if (!r.skipped.empty()) {
    o << "\nSkipped:\n";
    for (const auto& s : r.skipped) o << "  - " << s << "\n";
  }
  return o.str();
}

nlohmann::json calibration_json(const CalibrationResult& r) {
  using nlohmann::json;
  auto number = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  auto dist = [&](const Distribution& d) {
    return json{{"n", d.n}, {"min", number(d.min)}, {"median", number(d.median)},
                {"p95", number(d.p95)}, {"max", number(d.max)}};
  };
  json j{{"schema", "attn-harness.calibrate/1"}, {"device", r.device}, {"profile", r.profile},
         {"real", r.real}, {"baseline", r.baseline}, {"grad_scale", r.grad_scale},
         {"cases", r.cases}, {"skipped", r.skipped}, {"margin", number(r.margin)},
         {"margin_where", r.margin_where}, {"real_failures", r.real_failures}};
  j["kinds"] = json::array();
  for (const auto& k : r.kinds)
    j["kinds"].push_back({{"kind", k.kind}, {"ratio", dist(k.ratio)}, {"use", dist(k.use)},
                          {"margin", number(k.margin)}, {"worst", k.worst}});
  j["mutants"] = json::array();
  for (const auto& m : r.mutants)
    j["mutants"].push_back({{"name", m.name}, {"cases", m.cases}, {"flagged", m.flagged},
                            {"weakest_flag", number(m.weakest_flag)}, {"median_use", number(m.median_use)},
                            {"max_use", number(m.max_use)}, {"max_where", m.max_where}});
  return j;
}

}  // namespace attn::cli::selftest

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>

#include "reports/comparison_formats.hpp"
#include "reports/detail/number_format.hpp"

namespace attn::report {

using detail::count;
using detail::fixed;
using detail::sci;

std::vector<const TensorComparison*> tensors_to_detail(const CaseComparison& c) {
  std::vector<const TensorComparison*> out;
  for (const auto& t : c.tensors)
    if (t.gate.judged && !t.gate.passed) out.push_back(&t);
  if (!out.empty()) return out;
  const TensorComparison* top = nullptr;
  for (const auto& t : c.tensors) {
    const double u = t.gate.judged ? t.gate.use() : -1.0;
    const double best = top ? (top->gate.judged ? top->gate.use() : -1.0) : -2.0;
    if (u > best) top = &t;
  }
  if (top) out.push_back(top);
  return out;
}

namespace {

std::string coordinate(const TensorComparison& t, const WorstElement& w) {
  std::ostringstream o;
  o << t.name << "[b=" << w.b << (t.id.per_kv_head() ? " kvh=" : " h=") << w.head
    << (t.id.per_kv_head() ? " j=" : " i=") << w.row;
  if (w.col >= 0) o << " d=" << w.col;
  o << "]";
  return o.str();
}

std::string profile_line(const GateProfile& p) {
  std::string s = p.name + " (" + p.mode_name();
  if (p.floor_factor > 0)
  {
    const std::string off = fixed(p.floor_offset, 2) + (p.floor_offset_scaled ? "*max|ref|" : "");
    s += ", floor " + fixed(p.floor_factor, 1) + " x |(x+" + off + "-" + off + ")-x|";
  }
  else
    s += ", no floor";
  return s + ")";
}

std::string verdict_word(const TensorComparison& t) {
  if (!t.gate.judged) return "not judged";
  return t.gate.passed ? "pass" : "FAIL";
}

}  // namespace

std::string format_comparison_text(const CaseComparison& c) {
  std::ostringstream o;
  const auto& k = c.config;
  o << "compare " << c.candidate.name << " vs the fp64 reference"
    << (c.baseline ? ", baseline " + c.baseline->name : ", no baseline") << ", profile "
    << profile_line(c.profile) << "\n";
  o << "case " << (c.case_path.empty() ? "(in memory)" : c.case_path) << "  B=" << k.B
    << " H=" << k.H << " Hkv=" << k.Hkv << " L=" << k.L << " D=" << k.D << " t=" << k.t << " "
    << data::to_string(k.dtype) << "  valid rows [";
  for (size_t b = 0; b < c.valid_rows.size(); ++b) o << (b ? ", " : "") << c.valid_rows[b];
  o << "]\n";

  o << std::left << std::setw(7) << "tensor" << std::setw(6) << "dtype" << std::setw(11)
    << "err cand" << std::setw(11) << "err base" << std::setw(8) << "c/b" << std::setw(11)
    << "threshold" << std::setw(7) << "use" << std::setw(16) << "ULP p50/p99/max" << std::setw(10)
    << "nonfinite" << "verdict\n";
  for (const auto& t : c.tensors) {
    const auto& g = t.gate;
    const double cb = t.baseline ? (g.err_b > 0 ? g.err_c / g.err_b : (g.err_c > 0 ? std::numeric_limits<double>::infinity() : 1.0)) : std::numeric_limits<double>::quiet_NaN();
    o << std::setw(7) << t.name << std::setw(6) << data::to_string(t.candidate.dtype)
      << std::setw(11) << sci(g.err_c) << std::setw(11) << (t.baseline ? sci(g.err_b) : "-")
      << std::setw(8) << (t.baseline ? fixed(cb) : "-") << std::setw(11)
      << (g.judged ? sci(g.threshold) : "-") << std::setw(7) << (g.judged ? fixed(g.use()) : "-")
      << std::setw(16)
      << (count(t.candidate.ulp_p50) + "/" + count(t.candidate.ulp_p99) + "/" + count(t.candidate.ulp_max))
      << std::setw(10) << t.candidate.nonfinite() << verdict_word(t) << "\n";
  }
  o << std::right;

  for (const TensorComparison* t : tensors_to_detail(c)) {
    if (t->worst.empty()) continue;
    o << "worst elements of " << t->name << " (" << t->worst.size() << "):\n";
    for (const auto& w : t->worst) {
      o << "  " << std::left << std::setw(28) << coordinate(*t, w) << std::right << " ref "
        << sci(w.reference, 4) << "  cand " << sci(w.candidate, 4);
      if (t->baseline) o << "  base " << sci(w.baseline, 4);
      o << "  |err| " << sci(w.abs_err) << "  rel " << sci(w.rel_err) << "  ulp " << count(w.ulp) << "\n";
    }
  }

  const auto& ir = c.invalid_rows;
  o << "invalid rows: " << c.candidate.name << " declares " << ir.declared
    << (ir.declared_explicitly ? "" : " (no invalid_rows attribute)");
  if (!ir.checked) {
    o << ": not checked\n";
  } else if (ir.passed) {
    int64_t n = 0;
    for (const auto& t : ir.tensors) n += t.elements;
    o << ": all " << n << " values on invalid rows are 0\n";
  } else {
    o << ": VIOLATED (not part of the gate):";
    for (const auto& t : ir.tensors)
      if (t.violations)
        o << " " << t.name << " " << t.violations << "/" << t.elements << " non-zero (max |x| "
          << sci(t.max_abs) << ");";
    o << "\n";
  }

  for (const std::string& n : c.notes) o << "note: " << n << "\n";
  const auto failed = c.failed_tensors();
  if (failed.empty()) {
    o << "verdict: PASS (" << c.judged() << " of " << c.tensors.size() << " tensors judged)\n";
  } else {
    o << "verdict: FAIL:";
    for (const auto& f : failed) o << " " << f;
    o << " (" << failed.size() << " of " << c.judged() << " judged tensors fail)\n";
    for (const auto& t : c.tensors)
      if (t.gate.judged && !t.gate.passed) o << "  " << t.name << ": " << t.gate.reason << "\n";
  }
  return o.str();
}

std::string format_gate_case_line(const GateCaseResult& r) {
  if (!r.comparison) return "ERROR " + r.case_path + ": " + r.error + "\n";
  const CaseComparison& c = *r.comparison;
  std::ostringstream o;
  const auto failed = c.failed_tensors();
  double worst_use = 0;
  std::string worst_name = "-";
  for (const auto& t : c.tensors)
    if (t.gate.judged && t.gate.use() >= worst_use) {
      worst_use = t.gate.use();
      worst_name = t.name;
    }
  if (failed.empty()) {
    o << "PASS  " << r.case_path << " (" << c.judged() << "/" << c.judged()
      << " tensors; highest err_c/threshold " << fixed(worst_use) << " on " << worst_name << ")";
  } else {
    o << "FAIL  " << r.case_path << ": ";
    bool first = true;
    for (const auto& t : c.tensors) {
      if (!t.gate.judged || t.gate.passed) continue;
      o << (first ? "" : "; ") << t.name << " (" << t.gate.reason << ")";
      first = false;
    }
  }
  if (c.invalid_rows.checked && !c.invalid_rows.passed) o << " [invalid-row contract violated]";
  o << "\n";
  for (const std::string& n : c.notes) o << "      note: " << n << "\n";
  return o.str();
}

std::string format_gate_total(const GateRun& run) {
  std::ostringstream o;
  const int code = run.exit_code();
  o << "gate " << (code == 0 ? "PASS" : code == 1 ? "FAIL" : "ERROR") << ": " << run.cases.size()
    << " case(s), " << run.failed_cases() << " failing, " << run.error_cases()
    << " with input errors; " << run.judged_tensors() << " tensors judged, "
    << run.failed_tensors() << " failing (candidate " << run.candidate
    << (run.baseline.empty() ? "" : ", baseline " + run.baseline) << ", profile "
    << run.profile.name << ")\n";
  return o.str();
}

}  // namespace attn::report

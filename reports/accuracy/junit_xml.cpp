#include <cstdio>
#include <sstream>

#include "reports/accuracy/comparison_formats.hpp"
#include "reports/detail/number_format.hpp"

namespace attn::report {
namespace {

using detail::sci;

std::string xml_escape(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids most control characters even when escaped.
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') out += '?';
        else out += char(ch);
    }
  }
  return out;
}

std::string numbers(const GateVerdict& g) {
  std::string s = "err_c=" + sci(g.err_c, 3) + " err_b=" + sci(g.err_b, 3) +
                  " ratio=" + sci(g.ratio, 3) + " atol=" + sci(g.atol, 3) +
                  " floor=" + sci(g.floor, 3) + " threshold=" + sci(g.threshold, 3) +
                  " budget=" + sci(g.budget, 3) + " budget_threshold=" + sci(g.budget_threshold, 3) +
                  " bound=" + g.bound + " use=" + sci(g.use(), 3);
  return s;
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", s);
  return buf;
}

int case_tests(const CaseComparison& c) { return c.judged() + (c.invalid_rows.checked ? 1 : 0); }
int case_failures(const CaseComparison& c) {
  return int(c.failed_tensors().size()) + (c.invalid_rows_failed() ? 1 : 0);
}

}  // namespace

std::string gate_junit_xml(const GateRun& run) {
  int tests = 0, failures = 0;
  for (const auto& r : run.cases) {
    tests += r.comparison ? case_tests(*r.comparison) : 1;
    failures += r.comparison ? case_failures(*r.comparison) : 0;
  }
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"attn-harness gate\" tests=\"" << tests << "\" failures=\""
    << failures << "\" errors=\"" << run.error_cases() << "\">\n";
  for (const auto& r : run.cases) {
    const std::string suite = xml_escape(r.case_path);
    if (!r.comparison) {
      o << "  <testsuite name=\"" << suite << "\" tests=\"1\" failures=\"0\" errors=\"1\" time=\""
        << seconds(r.seconds) << "\">\n"
        << "    <testcase classname=\"attn-harness.gate\" name=\"" << suite << "\" time=\""
        << seconds(r.seconds) << "\">\n"
        << "      <error message=\"" << xml_escape(r.error) << "\" type=\"InputError\"/>\n"
        << "    </testcase>\n  </testsuite>\n";
      continue;
    }
    const CaseComparison& c = *r.comparison;
    o << "  <testsuite name=\"" << suite << "\" tests=\"" << case_tests(c) << "\" failures=\""
      << case_failures(c) << "\" errors=\"0\" time=\"" << seconds(r.seconds) << "\">\n";
    o << "    <properties>\n"
      << "      <property name=\"candidate\" value=\"" << xml_escape(c.candidate.name) << "\"/>\n"
      << "      <property name=\"baseline\" value=\"" << xml_escape(c.baseline ? c.baseline->name : "") << "\"/>\n"
      << "      <property name=\"profile\" value=\"" << xml_escape(c.profile.name) << "\"/>\n"
      << "      <property name=\"input_hash\" value=\"" << xml_escape(c.input_hash) << "\"/>\n"
      << "      <property name=\"error_budget\" value=\"" << xml_escape(c.budgets_apply ? c.budget_key : "none") << "\"/>\n"
      << "      <property name=\"attn_harness\" value=\"" << xml_escape(run.tool_version + " (" + run.tool_commit + ")") << "\"/>\n";
    for (const auto& [key, value] : c.candidate.provenance)
      o << "      <property name=\"candidate." << xml_escape(key) << "\" value=\"" << xml_escape(value) << "\"/>\n";
    o << "    </properties>\n";
    for (const auto& t : c.tensors) {
      if (!t.gate.judged) continue;
      o << "    <testcase classname=\"attn-harness.gate." << xml_escape(c.profile.name)
        << "\" name=\"" << suite << ":" << t.name << "\" time=\"" << seconds(t.seconds) << "\">\n";
      if (!t.gate.passed)
        o << "      <failure message=\"" << xml_escape(t.name + ": " + t.gate.reason)
          << "\" type=\"GateViolation\">" << xml_escape(numbers(t.gate)) << "</failure>\n";
      o << "      <system-out>" << xml_escape(numbers(t.gate)) << "</system-out>\n";
      o << "    </testcase>\n";
    }
    const auto& ir = c.invalid_rows;
    if (ir.checked) {
      o << "    <testcase classname=\"attn-harness.gate.invalid_rows\" name=\"" << suite
        << ":invalid_rows\" time=\"" << seconds(c.invalid_rows_seconds) << "\">\n";
      if (!ir.passed) {
        std::string where;
        for (const auto& t : ir.tensors)
          if (t.violations) {
            where += (where.empty() ? "" : "; ") + t.name + " " + t.rows_text + ", largest |x| " +
                     sci(t.max_abs, 3) + " at " + t.worst_at;
          }
        if (c.options.enforce_invalid_rows)
          o << "      <failure message=\"" << xml_escape("invalid rows declared zeros are not: " + where)
            << "\" type=\"InvalidRows\">" << xml_escape(invalid_rows_details(c, "")) << "</failure>\n";
        else
          o << "      <system-out>" << xml_escape("VIOLATED (reported only, --invalid-rows warn): " + where)
            << "</system-out>\n";
      }
      o << "    </testcase>\n";
    }
    for (const std::string& n : c.notes) o << "    <system-out>note: " << xml_escape(n) << "</system-out>\n";
    o << "  </testsuite>\n";
  }
  o << "</testsuites>\n";
  return o.str();
}

}  // namespace attn::report

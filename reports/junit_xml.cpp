#include <sstream>

#include "reports/comparison_formats.hpp"
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
                  " use=" + sci(g.use(), 3);
  return s;
}

}  // namespace

std::string gate_junit_xml(const GateRun& run) {
  int tests = 0;
  for (const auto& r : run.cases) tests += r.comparison ? r.comparison->judged() : 1;
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<testsuites name=\"attn-harness gate\" tests=\"" << tests << "\" failures=\""
    << run.failed_tensors() << "\" errors=\"" << run.error_cases() << "\">\n";
  for (const auto& r : run.cases) {
    const std::string suite = xml_escape(r.case_path);
    if (!r.comparison) {
      o << "  <testsuite name=\"" << suite << "\" tests=\"1\" failures=\"0\" errors=\"1\">\n"
        << "    <testcase classname=\"attn-harness.gate\" name=\"" << suite << "\">\n"
        << "      <error message=\"" << xml_escape(r.error) << "\" type=\"InputError\"/>\n"
        << "    </testcase>\n  </testsuite>\n";
      continue;
    }
    const CaseComparison& c = *r.comparison;
    o << "  <testsuite name=\"" << suite << "\" tests=\"" << c.judged() << "\" failures=\""
      << c.failed_tensors().size() << "\" errors=\"0\">\n";
    o << "    <properties>\n"
      << "      <property name=\"candidate\" value=\"" << xml_escape(c.candidate.name) << "\"/>\n"
      << "      <property name=\"baseline\" value=\"" << xml_escape(c.baseline ? c.baseline->name : "") << "\"/>\n"
      << "      <property name=\"profile\" value=\"" << xml_escape(c.profile.name) << "\"/>\n"
      << "      <property name=\"input_hash\" value=\"" << xml_escape(c.input_hash) << "\"/>\n"
      << "    </properties>\n";
    for (const auto& t : c.tensors) {
      if (!t.gate.judged) continue;
      o << "    <testcase classname=\"attn-harness.gate." << xml_escape(c.profile.name)
        << "\" name=\"" << suite << ":" << t.name << "\" time=\"0\">\n";
      if (!t.gate.passed)
        o << "      <failure message=\"" << xml_escape(t.name + ": " + t.gate.reason)
          << "\" type=\"GateViolation\">" << xml_escape(numbers(t.gate)) << "</failure>\n";
      o << "      <system-out>" << xml_escape(numbers(t.gate)) << "</system-out>\n";
      o << "    </testcase>\n";
    }
    const auto& ir = c.invalid_rows;
    o << "    <system-out>invalid rows: declared " << xml_escape(ir.declared) << ", "
      << (!ir.checked ? "not checked" : ir.passed ? "all zero" : "VIOLATED (not part of the gate)")
      << "</system-out>\n";
    o << "  </testsuite>\n";
  }
  o << "</testsuites>\n";
  return o.str();
}

}  // namespace attn::report

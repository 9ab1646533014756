// The writers: JSON keys stable and parseable, JUnit XML well formed with the failing numbers,
// Markdown and text summaries carrying the verdicts.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "reports/accuracy/comparison_formats.hpp"
#include "reports/accuracy/tests/synthetic_case.hpp"

namespace attn::report {
namespace {

using nlohmann::json;
using test::flat_index;
using test::make_synthetic;
using test::rounded_producer;
using test::tensor_of;

const TensorId kDq{TensorKind::dq, -1};

// A case whose dq fails (err_c = 5 x err_b) and whose candidate has a NaN-free, finite rest.
CaseComparison failing_case() {
  const auto s = make_synthetic();
  auto base = rounded_producer(s.reference, "sdpa", data::DType::f64, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::bf16);
  data::Tensor& bq = tensor_of(base, kDq);
  data::Tensor& cq = tensor_of(cand, kDq);
  test::add_value(bq, flat_index(bq, 0, 0, 0, 0), 0.01);
  test::add_value(cq, flat_index(cq, 1, 3, 8, 7), 0.05);
  CaseComparison c = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  c.case_path = "cases/a&b <1>.h5";  // characters XML must escape
  c.input_hash = "0123456789abcdef";
  return c;
}

std::set<std::string> keys(const json& j) {
  std::set<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.insert(it.key());
  return k;
}

TEST(ComparisonJson, StableKeysAndRoundTrip) {
  const CaseComparison c = failing_case();
  const json j = json::parse(comparison_json(c).dump(2));  // parse back what a file would hold
  EXPECT_EQ(j["schema"], "attn-harness.compare/2");
  EXPECT_EQ(keys(j), (std::set<std::string>{"schema", "case", "input_hash", "config", "valid_len",
                                            "valid_rows", "candidate", "baseline", "reference",
                                            "profile", "options", "passed", "judged", "failed",
                                            "budget_key", "tensors", "invalid_rows",
                                            "invalid_rows_enforced", "notes"}));
  for (const char* k : {"rule_threshold", "budget", "budget_threshold", "threshold", "bound"})
    EXPECT_TRUE(j["tensors"][2]["gate"].contains(k)) << k;
  EXPECT_TRUE(j["tensors"][2].contains("seconds"));
  EXPECT_TRUE(j["tensors"][2]["candidate"]["ulp"].contains("elements"));
  EXPECT_EQ(j["passed"], false);
  EXPECT_EQ(j["failed"], json::array({"dq"}));
  EXPECT_EQ(j["valid_rows"], json::array({14, 9}));
  EXPECT_EQ(j["config"]["Hkv"], 2);
  EXPECT_EQ(j["candidate"]["name"], "flash");
  EXPECT_EQ(j["candidate"]["provenance"]["invalid_rows"], "zeros");
  ASSERT_EQ(j["tensors"].size(), 9u);
  std::vector<std::string> names;
  for (const auto& t : j["tensors"]) names.push_back(t["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"out", "lse", "dq", "dk0", "dk1", "dk2", "dv0", "dv1", "dv2"}));

  const json& dq = j["tensors"][2];
  EXPECT_EQ(keys(dq), (std::set<std::string>{"name", "kind", "block", "shape", "valid_elements",
                                             "reference_nonfinite", "reference_max_abs",
                                             "relative_error_floor", "gate", "seconds", "candidate",
                                             "baseline", "regions", "worst"}));
  EXPECT_EQ(keys(dq["gate"]), (std::set<std::string>{"judged", "passed", "mode", "err_c", "err_b",
                                                     "ratio", "atol", "floor", "rule_threshold",
                                                     "budget", "budget_threshold", "threshold",
                                                     "bound", "use", "reason"}));
  EXPECT_EQ(keys(dq["candidate"]),
            (std::set<std::string>{"dtype", "elements", "max_abs_err", "mean_abs_err", "max_rel_err",
                                   "mean_rel_err", "nan", "inf", "ulp", "histogram", "cosine",
                                   "norm_ratio", "old_rule_pass", "assert_close"}));
  EXPECT_EQ(keys(dq["candidate"]["histogram"]),
            (std::set<std::string>{"edges", "counts", "zero", "below", "above", "nonfinite"}));
  EXPECT_EQ(dq["candidate"]["histogram"]["edges"].size(), 15u);
  EXPECT_EQ(dq["candidate"]["histogram"]["counts"].size(), 14u);
  EXPECT_EQ(keys(dq["worst"][0]), (std::set<std::string>{"b", "head", "row", "col", "block", "reference",
                                                         "candidate", "baseline", "abs_err", "rel_err", "ulp"}));
  EXPECT_EQ(dq["gate"]["passed"], false);
  EXPECT_EQ(dq["gate"]["ratio"], 3.0);
  EXPECT_NEAR(dq["gate"]["err_b"].get<double>(), 0.01, 1e-12);
  EXPECT_EQ(dq["worst"][0]["b"], 1);
  EXPECT_EQ(dq["worst"][0]["head"], 3);
  EXPECT_EQ(dq["worst"][0]["row"], 8);
  EXPECT_EQ(dq["worst"][0]["col"], 7);
  EXPECT_TRUE(dq["block"].is_null());
  EXPECT_EQ(j["tensors"][4]["block"], 1);  // dk1
  EXPECT_TRUE(j["tensors"][1]["worst"][0]["col"].is_null());  // lse has no column
  EXPECT_EQ(keys(j["invalid_rows"]), (std::set<std::string>{"declared", "declared_explicitly", "checked", "passed", "tensors"}));
}

TEST(ComparisonJson, NonFiniteNumbersBecomeNull) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  auto cand = rounded_producer(s.reference, "flash");
  data::Tensor& cq = tensor_of(cand, kDq);
  test::set_value(cq, flat_index(cq, 0, 0, 0, 0), std::nan(""));
  const json j = json::parse(comparison_json(compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile())).dump());
  EXPECT_TRUE(j["tensors"][2]["gate"]["err_c"].is_null());
  EXPECT_EQ(j["tensors"][2]["candidate"]["nan"], 1);
}

GateRun sample_run() {
  GateRun run;
  run.candidate = "flash";
  run.baseline = "sdpa";
  run.profile = default_bf16_profile();
  run.cases.push_back({"good.h5", 0.0, std::nullopt, ""});
  {
    const auto s = make_synthetic();
    const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
    CaseComparison c = compare_case(s.inputs, s.reference, rounded_producer(s.reference, "flash"), &base,
                                    default_bf16_profile());
    c.case_path = "good.h5";
    run.cases[0].comparison = c;
  }
  GateCaseResult bad;
  bad.case_path = "cases/a&b <1>.h5";
  bad.comparison = failing_case();
  run.cases.push_back(bad);
  run.cases.push_back({"missing.h5", 0.0, std::nullopt, "missing.h5: no such file \"x\" & <y>"});
  return run;
}

TEST(GateRun, ExitCodes) {
  GateRun run = sample_run();
  EXPECT_EQ(run.exit_code(), 3);  // violations and input errors together
  run.cases.pop_back();
  EXPECT_EQ(run.exit_code(), 1);
  run.cases.pop_back();
  EXPECT_EQ(run.exit_code(), 0);
}

TEST(GateJson, KeysAndTotals) {
  GateRun run = sample_run();
  run.tool_version = "9.9.9";
  run.tool_commit = "abcdef123456";
  const json j = json::parse(gate_json(run).dump());
  EXPECT_EQ(j["schema"], "attn-harness.gate/2");
  EXPECT_EQ(keys(j), (std::set<std::string>{"schema", "attn_harness", "candidate", "baseline", "profile", "exit_code", "passed", "totals", "cases"}));
  EXPECT_EQ(j["attn_harness"]["version"], "9.9.9");
  EXPECT_EQ(j["attn_harness"]["commit"], "abcdef123456");
  EXPECT_EQ(j["cases"][0]["candidate"]["name"], "flash");
  EXPECT_EQ(j["cases"][0]["candidate"]["provenance"]["backend"], "flash");
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["totals"]["cases"], 3);
  EXPECT_EQ(j["totals"]["failed_cases"], 1);
  EXPECT_EQ(j["totals"]["error_cases"], 1);
  EXPECT_EQ(j["totals"]["judged_tensors"], 18);
  EXPECT_EQ(j["totals"]["failed_tensors"], 1);
  EXPECT_EQ(j["cases"][1]["failed"], json::array({"dq"}));
  EXPECT_FALSE(j["cases"][2]["error"].get<std::string>().empty());
  EXPECT_FALSE(j["cases"][1]["tensors"][2]["candidate"].contains("histogram"));
}

TEST(JunitXml, WellFormedWithFailureNumbers) {
  const std::string xml = gate_junit_xml(sample_run());
  EXPECT_EQ(test::xml_problem(xml), "") << xml;
  // 18 tensors and 2 invalid-row checks (both candidates declare zeros), one error case.
  EXPECT_NE(xml.find("<testsuites name=\"attn-harness gate\" tests=\"21\" failures=\"1\" errors=\"1\">"), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"good.h5:invalid_rows\""), std::string::npos);
  EXPECT_EQ(xml.find("time=\"0\""), std::string::npos) << "testcases carry their real time";
  EXPECT_NE(xml.find("name=\"good.h5:dq\""), std::string::npos);
  EXPECT_NE(xml.find("name=\"cases/a&amp;b &lt;1&gt;.h5:dq\""), std::string::npos);
  const size_t fail = xml.find("<failure message=\"dq: err_c");
  ASSERT_NE(fail, std::string::npos) << xml;
  const std::string failure = xml.substr(fail, xml.find("</failure>", fail) - fail);
  for (const char* k : {"err_c=", "err_b=", "ratio=", "floor=", "threshold="})
    EXPECT_NE(failure.find(k), std::string::npos) << k << " in " << failure;
  EXPECT_NE(xml.find("<error message=\"missing.h5: no such file &quot;x&quot; &amp; &lt;y&gt;\""), std::string::npos);
}

TEST(JunitXml, ViolatedZerosDeclarationIsAFailureNamingRowsAndWorstValue) {
  const auto s = make_synthetic();
  const auto base = rounded_producer(s.reference, "sdpa", data::DType::bf16, "unspecified");
  auto cand = rounded_producer(s.reference, "flash", data::DType::bf16, "zeros");
  data::Tensor& out = tensor_of(cand, TensorId{TensorKind::out, -1});
  test::set_value(out, flat_index(out, 1, 2, 12, 5), -0.5);
  GateRun run;
  run.candidate = "flash";
  run.baseline = "sdpa";
  run.profile = default_bf16_profile();
  GateCaseResult r;
  r.case_path = "padded.h5";
  r.comparison = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile());
  r.comparison->case_path = r.case_path;
  run.cases.push_back(r);
  EXPECT_EQ(run.exit_code(), 1);
  const std::string xml = gate_junit_xml(run);
  EXPECT_EQ(test::xml_problem(xml), "") << xml;
  const size_t tc = xml.find("name=\"padded.h5:invalid_rows\"");
  ASSERT_NE(tc, std::string::npos) << xml;
  const size_t fail = xml.find("<failure message=\"invalid rows declared zeros are not: out b=1 rows 12", tc);
  ASSERT_NE(fail, std::string::npos) << xml.substr(tc, 600);
  const std::string msg = xml.substr(fail, xml.find('>', fail) - fail);
  EXPECT_NE(msg.find("largest |x| 5.000e-01 at b=1 h=2 i=12 d=5"), std::string::npos) << msg;
  EXPECT_NE(xml.find("failures=\"1\""), std::string::npos);

  // --invalid-rows warn: the same numbers, reported in system-out, no failure.
  CompareOptions warn;
  warn.enforce_invalid_rows = false;
  run.cases[0].comparison = compare_case(s.inputs, s.reference, cand, &base, default_bf16_profile(), warn);
  run.cases[0].comparison->case_path = "padded.h5";
  EXPECT_EQ(run.exit_code(), 0);
  const std::string warned = gate_junit_xml(run);
  EXPECT_EQ(warned.find("<failure"), std::string::npos);
  EXPECT_NE(warned.find("VIOLATED (reported only, --invalid-rows warn): out b=1 rows 12"), std::string::npos);
}

TEST(JunitXml, ParsesWithPythonElementTree) {
  // scripts/setup.sh installs python3 on every machine that runs the tests: its absence is a
  // broken set-up, not a reason to skip.
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import xml.etree.ElementTree' 2>/dev/null"), 0)
      << "/usr/bin/python3 with xml.etree is needed to check the JUnit XML";
  const auto path = std::filesystem::temp_directory_path() / ("attn-junit-" + std::to_string(::getpid()) + ".xml");
  std::ofstream(path) << gate_junit_xml(sample_run());
  const std::string cmd =
      "/usr/bin/python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
      "cases = r.findall('./testsuite/testcase'); "
      "assert r.tag == 'testsuites' and len(r.findall('testsuite')) == 3, r; "
      "assert len(cases) == 21, len(cases); "
      "assert sum(1 for c in cases if c.find('failure') is not None) == 1; "
      "assert sum(1 for c in cases if c.find('error') is not None) == 1\" " + path.string();
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::filesystem::remove(path);
}

TEST(Markdown, TableRowPerTensorAndWorstElements) {
  const std::string md = comparison_markdown(failing_case());
  EXPECT_NE(md.find("**FAIL**"), std::string::npos);
  EXPECT_NE(md.find("| tensor | dtype |"), std::string::npos);
  for (const char* t : {"| out |", "| lse |", "| dq |", "| dk0 |", "| dv2 |"}) EXPECT_NE(md.find(t), std::string::npos) << t;
  EXPECT_NE(md.find("<details><summary>dq: worst elements and regions"), std::string::npos);
  EXPECT_NE(md.find("| rows (deciles) |"), std::string::npos);
  EXPECT_NE(md.find("| GQA group |"), std::string::npos);
  EXPECT_NE(md.find("| head (worst 5) |"), std::string::npos);
  EXPECT_NE(md.find("rel err = |err| / max(|ref|, "), std::string::npos);
  EXPECT_NE(md.find("- `dq`: err_c"), std::string::npos);
}

TEST(Text, SummaryLinesAndVerdict) {
  const CaseComparison c = failing_case();
  const std::string txt = format_comparison_text(c);
  EXPECT_NE(txt.find("verdict: FAIL: dq"), std::string::npos) << txt;
  EXPECT_NE(txt.find("worst elements of dq"), std::string::npos) << txt;
  EXPECT_NE(txt.find("dq[b=1 h=3 i=8 d=7]"), std::string::npos) << txt;
  EXPECT_NE(txt.find("invalid rows: flash declares zeros"), std::string::npos) << txt;
  EXPECT_NE(txt.find("regions of dq:"), std::string::npos) << txt;
  EXPECT_NE(txt.find("head (worst first)"), std::string::npos) << txt;
  EXPECT_NE(txt.find("cache blocks:"), std::string::npos) << txt;
  // Columns never run together: every row of the tensor table has its cells apart.
  for (const char* row : {"dq  ", "out  ", "dk0  "}) EXPECT_NE(txt.find(row), std::string::npos) << row;
  const GateRun run = sample_run();
  EXPECT_EQ(format_gate_case_line(run.cases[0]).rfind("PASS  good.h5", 0), 0u);
  const std::string fail = format_gate_case_line(run.cases[1]);
  EXPECT_EQ(fail.rfind("FAIL  ", 0), 0u);
  EXPECT_NE(fail.find("\n      dq: err_c"), std::string::npos) << "one line per failing tensor: " << fail;
  EXPECT_EQ(format_gate_case_line(run.cases[2]).rfind("ERROR missing.h5", 0), 0u);
  EXPECT_NE(format_gate_total(run).find("gate ERROR: 3 case(s), 1 failing, 1 with input errors"), std::string::npos);
  EXPECT_NE(format_gate_total(run).find("exit 3"), std::string::npos);
}

}  // namespace
}  // namespace attn::report

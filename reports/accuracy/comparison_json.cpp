#include <cmath>

#include "reports/accuracy/comparison_formats.hpp"
#include "reports/accuracy/output_tensors.hpp"

namespace attn::report {
namespace {

using nlohmann::json;

json num(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

json stats_json(const ErrorStats& s) {
  json h = {{"edges", json::array()},
            {"counts", json::array()},
            {"zero", s.histogram.zero},
            {"below", s.histogram.below},
            {"above", s.histogram.above},
            {"nonfinite", s.histogram.nonfinite}};
  for (int i = 0; i <= ErrorHistogram::kDecades; ++i) h["edges"].push_back(ErrorHistogram::edge(i));
  for (int64_t n : s.histogram.decades) h["counts"].push_back(n);
  return {{"dtype", data::to_string(s.dtype)},
          {"elements", s.elements},
          {"max_abs_err", num(s.max_abs)},
          {"mean_abs_err", num(s.mean_abs)},
          {"max_rel_err", num(s.max_rel)},
          {"mean_rel_err", num(s.mean_rel)},
          {"nan", s.nan},
          {"inf", s.inf},
          {"ulp", {{"unit", data::to_string(s.dtype)}, {"elements", s.ulp_elements}, {"p50", num(s.ulp_p50)}, {"p99", num(s.ulp_p99)}, {"max", num(s.ulp_max)}}},
          {"histogram", h},
          {"cosine", num(s.cosine)},
          {"norm_ratio", num(s.norm_ratio)},
          {"old_rule_pass", s.old_rule_pass},
          {"assert_close", {{"rtol", kAssertCloseRtol}, {"atol", kAssertCloseAtol}, {"mismatches", s.assert_close_mismatches}}}};
}

json gate_verdict_json(const GateVerdict& g) {
  return {{"judged", g.judged},
          {"passed", g.passed},
          {"mode", g.mode},
          {"err_c", num(g.err_c)},
          {"err_b", num(g.err_b)},
          {"ratio", g.ratio},
          {"atol", g.atol},
          {"floor", num(g.floor)},
          {"rule_threshold", num(g.rule_threshold)},
          {"budget", g.budget > 0 ? num(g.budget) : json(nullptr)},
          {"budget_threshold", g.budget > 0 ? num(g.budget_threshold) : json(nullptr)},
          {"threshold", num(g.threshold)},
          {"bound", g.bound},
          {"use", num(g.use())},
          {"reason", g.reason}};
}

json producer_json(const ProducerInfo& p) {
  return {{"name", p.name}, {"provenance", p.provenance}};
}

json profile_json(const GateProfile& p) {
  json rules = json::object();
  for (const auto& [k, r] : p.rules) {
    if (p.mode == GateProfile::Mode::relative)
      rules[k] = {{"ratio", r.ratio}};
    else
      rules[k] = {{"atol", r.atol}, {"atol_scaled", r.atol_scaled}};
  }
  return {{"name", p.name},
          {"source", p.source},
          {"mode", p.mode_name()},
          {"floor", p.floor_ulps > 0 ? json{{"ulps", p.floor_ulps}}
                                     : json{{"factor", p.floor_factor}, {"offset", p.floor_offset}, {"offset_scale", p.floor_offset_scaled ? "max_abs_ref" : "absolute"}}},
          {"budgets", p.budgets ? json(p.budgets->source) : json(nullptr)},
          {"tensors", rules}};
}

json config_json(const data::CaseConfig& k) {
  return {{"B", k.B}, {"H", k.H}, {"Hkv", k.Hkv}, {"L", k.L}, {"D", k.D}, {"t", k.t},
          {"dtype", data::to_string(k.dtype)}, {"scale", k.scale}};
}

json invalid_rows_json(const InvalidRowsCheck& ir) {
  json t = json::array();
  for (const auto& x : ir.tensors)
    t.push_back({{"name", x.name}, {"elements", x.elements}, {"violations", x.violations}, {"max_abs", num(x.max_abs)},
                 {"rows", x.rows}, {"where", x.rows_text}, {"worst_at", x.worst_at}});
  return {{"declared", ir.declared},
          {"declared_explicitly", ir.declared_explicitly},
          {"checked", ir.checked},
          {"passed", ir.passed},
          {"tensors", t}};
}

json tensor_json(const TensorComparison& t, bool details) {
  json j = {{"name", t.name},
            {"kind", t.id.kind_name()},
            {"block", t.id.per_kv_head() ? json(t.id.block) : json(nullptr)},
            {"shape", t.shape},
            {"valid_elements", t.valid_elements},
            {"reference_nonfinite", t.reference_nonfinite},
            {"reference_max_abs", num(t.reference_max_abs)},
            {"relative_error_floor", num(t.relative_floor)},
            {"gate", gate_verdict_json(t.gate)},
            {"seconds", t.seconds},
            {"candidate", stats_json(t.candidate)},
            {"baseline", t.baseline ? stats_json(*t.baseline) : json(nullptr)}};
  if (!details) {
    // The gate JSON keeps the headline numbers only.
    for (const char* key : {"candidate", "baseline"}) {
      if (j[key].is_null()) continue;
      j[key].erase("histogram");
    }
    return j;
  }
  json regions = json::array();
  for (const auto& r : t.regions)
    regions.push_back({{"kind", r.kind},
                       {"label", r.label},
                       {"first", r.first},
                       {"last", r.last},
                       {"elements", r.elements},
                       {"candidate_max_abs_err", num(r.candidate_max_abs)},
                       {"candidate_mean_abs_err", num(r.candidate_mean_abs)},
                       {"baseline_max_abs_err", num(r.baseline_max_abs)}});
  json worst = json::array();
  for (const auto& w : t.worst)
    worst.push_back({{"b", w.b},
                     {"head", w.head},
                     {"row", w.row},
                     {"col", w.col >= 0 ? json(w.col) : json(nullptr)},
                     {"block", w.block >= 0 ? json(w.block) : json(nullptr)},
                     {"reference", num(w.reference)},
                     {"candidate", num(w.candidate)},
                     {"baseline", num(w.baseline)},
                     {"abs_err", num(w.abs_err)},
                     {"rel_err", num(w.rel_err)},
                     {"ulp", num(w.ulp)}});
  j["regions"] = regions;
  j["worst"] = worst;
  return j;
}

}  // namespace

json comparison_json(const CaseComparison& c) {
  json tensors = json::array();
  for (const auto& t : c.tensors) tensors.push_back(tensor_json(t, true));
  return {{"schema", "attn-harness.compare/2"},
          {"case", c.case_path},
          {"input_hash", c.input_hash},
          {"config", config_json(c.config)},
          {"valid_len", c.valid_len},
          {"valid_rows", c.valid_rows},
          {"candidate", producer_json(c.candidate)},
          {"baseline", c.baseline ? producer_json(*c.baseline) : json(nullptr)},
          {"reference", producer_json(c.reference)},
          {"profile", profile_json(c.profile)},
          {"options", {{"worst", c.options.worst_k}, {"relative_error_floor_fraction", c.options.relative_floor_fraction}}},
          {"passed", c.passed},
          {"judged", c.judged()},
          {"failed", c.failed_tensors()},
          {"budget_key", c.budgets_apply ? json(c.budget_key) : json(nullptr)},
          {"tensors", tensors},
          {"invalid_rows", invalid_rows_json(c.invalid_rows)},
          {"invalid_rows_enforced", c.options.enforce_invalid_rows},
          {"notes", c.notes}};
}

json gate_json(const GateRun& run) {
  json cases = json::array();
  for (const auto& r : run.cases) {
    if (!r.comparison) {
      cases.push_back({{"case", r.case_path}, {"passed", false}, {"error", r.error}, {"seconds", r.seconds}});
      continue;
    }
    const CaseComparison& c = *r.comparison;
    json tensors = json::array();
    for (const auto& t : c.tensors) tensors.push_back(tensor_json(t, false));
    cases.push_back({{"case", r.case_path},
                     {"passed", c.passed},
                     {"error", nullptr},
                     {"seconds", r.seconds},
                     {"input_hash", c.input_hash},
                     {"candidate", producer_json(c.candidate)},
                     {"baseline", c.baseline ? producer_json(*c.baseline) : json(nullptr)},
                     {"budget_key", c.budgets_apply ? json(c.budget_key) : json(nullptr)},
                     {"config", config_json(c.config)},
                     {"valid_rows", c.valid_rows},
                     {"judged", c.judged()},
                     {"failed", c.failed_tensors()},
                     {"tensors", tensors},
                     {"invalid_rows", invalid_rows_json(c.invalid_rows)},
                     {"invalid_rows_failed", c.invalid_rows_failed()},
                     {"notes", c.notes}});
  }
  return {{"schema", "attn-harness.gate/2"},
          {"attn_harness", {{"version", run.tool_version}, {"commit", run.tool_commit}}},
          {"candidate", run.candidate},
          {"baseline", run.baseline.empty() ? json(nullptr) : json(run.baseline)},
          {"profile", profile_json(run.profile)},
          {"exit_code", run.exit_code()},
          {"passed", run.exit_code() == 0},
          {"totals", {{"cases", run.cases.size()},
                      {"failed_cases", run.failed_cases()},
                      {"error_cases", run.error_cases()},
                      {"judged_tensors", run.judged_tensors()},
                      {"failed_tensors", run.failed_tensors()}}},
          {"cases", cases}};
}

}  // namespace attn::report

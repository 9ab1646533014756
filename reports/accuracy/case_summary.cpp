#include "reports/accuracy/case_summary.hpp"

#include <algorithm>
#include <sstream>

#include "datasets/input_hash.hpp"
#include "datasets/limits.hpp"

namespace attn::report {
namespace {

RecordSummary summarize(const data::RecordInfo& r, const std::string& hash) {
  RecordSummary s;
  s.name = r.name;
  s.state = data::to_string(data::record_state(r, hash));
  s.input_hash = r.input_hash;
  s.provenance = r.provenance;
  s.tensors = r.tensors;
  s.bytes = r.bytes;
  s.damage = r.damage;
  return s;
}

nlohmann::json record_json(const RecordSummary& r) {
  nlohmann::json j{{"state", r.state},           {"input_hash", r.input_hash},
                   {"provenance", r.provenance}, {"tensors", r.tensors},
                   {"bytes", r.bytes}};
  if (!r.damage.empty()) j["damage"] = r.damage;
  return j;
}

std::string list_text(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

std::string tensors_text(const std::vector<std::string>& t, int64_t blocks) {
  // "all" when out, lse, dq and every block are there.
  if (int64_t(t.size()) == 3 + 2 * blocks) return "all";
  std::string s;
  for (const auto& n : t) s += (s.empty() ? "" : ",") + n;
  return s;
}

}  // namespace

CaseSummary summarize_case(const std::filesystem::path& path, bool verify) {
  CaseSummary s;
  s.manifest = data::read_manifest(path);
  const data::CaseManifest& m = s.manifest;
  for (int64_t v : m.valid_len) s.valid_rows.push_back(std::max<int64_t>(0, v - m.config.t));
  s.input_hash = m.recorded_input_hash;
  if (verify) {
    s.input_hash = data::input_hash(data::read_case_inputs(m));
    s.verified = true;
    s.recorded_hash_matches = s.input_hash == m.recorded_input_hash;
  }
  for (const data::RecordInfo& r : m.producers) s.producers.push_back(summarize(r, s.input_hash));
  if (m.reference) s.reference = summarize(*m.reference, s.input_hash);
  return s;
}

std::string format_case_summary(const CaseSummary& s) {
  const data::CaseManifest& m = s.manifest;
  const data::CaseConfig& c = m.config;
  std::ostringstream o;
  o << m.path.string() << "  (case " << data::to_string(m.format) << ", schema "
    << m.schema_version << ", " << data::byte_size_text(m.bytes) << ")\n";
  o << "  shape      B=" << c.B << " H=" << c.H << " Hkv=" << c.Hkv << " L=" << c.L
    << " D=" << c.D << " t=" << c.t << " (" << c.t + 1 << " cache blocks), " << data::to_string(c.dtype)
    << ", scale " << c.scale << "\n";
  o << "  rows       valid_len " << list_text(m.valid_len) << ", valid query rows "
    << list_text(s.valid_rows) << " of " << c.L << "\n";
  if (m.generator) {
    const data::GeneratorParams& g = *m.generator;
    o << "  generator  " << g.preset << ", seed " << g.seed << ", logit_std " << g.logit_std << ", "
      << g.outlier_channels << " outlier channels x" << g.outlier_gain << ", rope_theta "
      << g.rope_theta << ", grad_scale " << g.grad_scale << "\n";
  }
  o << "  inputs     hash " << (s.input_hash.empty() ? "(none recorded)" : s.input_hash);
  if (s.verified)
    o << (s.recorded_hash_matches ? " (verified from the values)"
                                  : " (computed from the values; the recorded hash " +
                                        m.recorded_input_hash +
                                        " differs: the inputs were edited after they were written)");
  else
    o << " (as recorded; --verify re-hashes the values)";
  o << "\n";
  size_t width = std::string("reference").size();
  for (const auto& p : s.producers) width = std::max(width, p.name.size());
  auto line = [&](const std::string& label, const RecordSummary& r) {
    o << "    " << label << std::string(width - label.size() + 2, ' ') << r.state;
    if (!r.damage.empty()) {
      o << ": " << r.damage << "\n";
      return;
    }
    o << std::string(std::max<int>(0, 11 - int(r.state.size())), ' ')
      << "tensors " << tensors_text(r.tensors, c.t + 1);
    for (const char* key : {"backend", "device", "time"}) {
      auto it = r.provenance.find(key);
      if (it != r.provenance.end()) o << "  " << key << "=" << it->second;
    }
    if (r.bytes) o << "  " << data::byte_size_text(r.bytes);
    o << "\n";
  };
  o << "  records\n";
  if (s.reference)
    line("reference", *s.reference);
  else
    o << "    reference" << std::string(width - 9 + 2, ' ') << "none\n";
  for (const auto& p : s.producers) line(p.name, p);
  if (s.producers.empty()) o << "    (no producers)\n";
  for (const std::string& t : m.leftover_temporaries)
    o << "  leftover   " << t << " (a writer was killed; removed by the next write here)\n";
  return o.str();
}

nlohmann::json case_summary_json(const CaseSummary& s) {
  const data::CaseManifest& m = s.manifest;
  const data::CaseConfig& c = m.config;
  nlohmann::json j;
  j["schema"] = "attn-harness.info/2";
  j["path"] = m.path.string();
  j["format"] = data::to_string(m.format);
  j["schema_version"] = m.schema_version;
  j["bytes"] = m.bytes;
  j["config"] = {{"B", c.B}, {"H", c.H}, {"Hkv", c.Hkv}, {"L", c.L}, {"D", c.D}, {"t", c.t},
                 {"dtype", data::to_string(c.dtype)}, {"scale", c.scale}};
  j["valid_len"] = m.valid_len;
  j["valid_rows"] = s.valid_rows;
  if (m.generator) {
    const data::GeneratorParams& g = *m.generator;
    j["generator"] = {{"preset", g.preset}, {"seed", g.seed}, {"pad", g.pad},
                      {"rope_theta", g.rope_theta}, {"logit_std", g.logit_std},
                      {"outlier_channels", g.outlier_channels}, {"outlier_gain", g.outlier_gain},
                      {"grad_scale", g.grad_scale}, {"rng", g.rng}};
  } else {
    j["generator"] = nullptr;
  }
  j["input_hash"] = s.input_hash;
  j["recorded_input_hash"] = m.recorded_input_hash;
  j["verified"] = s.verified;
  if (s.reference)
    j["reference"] = record_json(*s.reference);
  else
    j["reference"] = {{"state", "none"}};
  nlohmann::json producers = nlohmann::json::object();
  for (const auto& p : s.producers) producers[p.name] = record_json(p);
  j["producers"] = producers;
  j["leftover_temporaries"] = m.leftover_temporaries;
  return j;
}

}  // namespace attn::report

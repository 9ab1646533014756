#include "reports/case_summary.hpp"

#include <algorithm>
#include <sstream>

#include "datasets/case_file.hpp"

namespace attn::report {

CaseSummary summarize_case(const std::filesystem::path& path) {
  const data::CaseInputs in = data::read_case_inputs(path);
  CaseSummary s;
  s.path = path.string();
  s.file_bytes = std::filesystem::file_size(path);
  s.config = in.config;
  s.valid_len = in.valid_len;
  for (int64_t v : in.valid_len) s.valid_rows.push_back(std::max<int64_t>(0, v - in.config.t));
  s.generator = in.generator;
  s.input_hash = data::input_hash(in);
  for (const std::string& name : data::list_producers(path))
    s.producers[name] = data::read_producer_provenance(path, name);
  if (auto ref = data::read_cached_reference_info(path)) {
    s.reference_state = ref->input_hash == s.input_hash ? "current" : "stale";
    s.reference_provenance = ref->provenance;
  }
  return s;
}

std::string format_case_summary(const CaseSummary& s) {
  const data::CaseConfig& c = s.config;
  std::ostringstream o;
  o << s.path << " (" << s.file_bytes / 1024 << " KiB)\n";
  o << "  shape    B=" << c.B << " H=" << c.H << " Hkv=" << c.Hkv << " L=" << c.L << " D=" << c.D
    << " t=" << c.t << " (" << c.t + 1 << " cache blocks)  dtype " << data::to_string(c.dtype)
    << "  scale " << c.scale << "\n";
  o << "  rows     valid_len [";
  for (size_t b = 0; b < s.valid_len.size(); ++b) o << (b ? ", " : "") << s.valid_len[b];
  o << "], valid query rows [";
  for (size_t b = 0; b < s.valid_rows.size(); ++b) o << (b ? ", " : "") << s.valid_rows[b];
  o << "] of " << c.L << "\n";
  if (s.generator) {
    const data::GeneratorParams& g = *s.generator;
    o << "  made by  generator preset " << g.preset << ", seed " << g.seed << ", logit_std "
      << g.logit_std << ", " << g.outlier_channels << " outlier channels x" << g.outlier_gain
      << ", rope_theta " << g.rope_theta << ", grad_scale " << g.grad_scale << "\n";
  }
  o << "  inputs   hash " << s.input_hash << "\n";
  o << "  reference " << s.reference_state;
  if (s.reference_state != "none") {
    auto it = s.reference_provenance.find("time");
    if (it != s.reference_provenance.end()) o << " (computed " << it->second << ")";
  }
  o << "\n";
  o << "  producers " << (s.producers.empty() ? "none" : "") << "\n";
  for (const auto& [name, prov] : s.producers) {
    o << "    " << name;
    for (const char* key : {"device", "dtype", "torch_version", "time"}) {
      auto it = prov.find(key);
      if (it != prov.end()) o << "  " << key << "=" << it->second;
    }
    o << "\n";
  }
  return o.str();
}

nlohmann::json case_summary_json(const CaseSummary& s) {
  const data::CaseConfig& c = s.config;
  nlohmann::json j;
  j["schema"] = "attn-harness.info/1";
  j["path"] = s.path;
  j["file_bytes"] = s.file_bytes;
  j["config"] = {{"B", c.B}, {"H", c.H}, {"Hkv", c.Hkv}, {"L", c.L}, {"D", c.D}, {"t", c.t},
                 {"dtype", data::to_string(c.dtype)}, {"scale", c.scale}};
  j["valid_len"] = s.valid_len;
  j["valid_rows"] = s.valid_rows;
  if (s.generator) {
    const data::GeneratorParams& g = *s.generator;
    j["generator"] = {{"preset", g.preset}, {"seed", g.seed}, {"pad", g.pad},
                      {"rope_theta", g.rope_theta}, {"logit_std", g.logit_std},
                      {"outlier_channels", g.outlier_channels}, {"outlier_gain", g.outlier_gain},
                      {"grad_scale", g.grad_scale}};
  } else {
    j["generator"] = nullptr;
  }
  j["input_hash"] = s.input_hash;
  j["reference"] = {{"state", s.reference_state}, {"provenance", s.reference_provenance}};
  j["producers"] = s.producers;
  return j;
}

}  // namespace attn::report

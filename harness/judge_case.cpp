#include "harness/judge_case.hpp"

#include <algorithm>
#include <optional>

#include "datasets/errors.hpp"
#include "datasets/input_hash.hpp"

namespace attn::cli {

std::string producer_list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

namespace {

/// The command that records producer `name` again (its recorded backend when it has one).
std::string record_command(const data::CaseManifest& m, const std::string& name,
                           const data::RecordInfo* r) {
  std::string backend = name;
  std::string world = "P";  // the ring backends need --world: the recorded one, else a placeholder
  if (r) {
    const auto it = r->provenance.find("backend");
    if (it != r->provenance.end() && !it->second.empty()) backend = it->second;
    const auto w = r->provenance.find("world_size");
    if (w != r->provenance.end() && !w->second.empty()) world = w->second;
  }
  const bool ring = backend.rfind("ring", 0) == 0;
  return "`attn-harness run " + m.path.string() + " --backend " + backend +
         (ring ? " --world " + world : "") + (backend != name ? " --as " + name : "") + "`";
}

}  // namespace

const data::RecordInfo& require_current_producer(const data::CaseManifest& m,
                                                 const std::string& name,
                                                 const std::string& hash,
                                                 const std::string& role) {
  const data::RecordInfo* r = m.find_producer(name);
  if (!r)
    throw data::InputError(
        m.path.string() + ": no recorded " + role + " '" + name + "' (producers: " +
        producer_list(m.producer_names()) + "); record it with " + record_command(m, name, nullptr) +
        (m.format == data::CaseFormat::folder
             ? ", or write " + (m.path / data::kOutputsFolderName / (name + ".h5")).string() +
                   " from your own code (docs/case-format.md)"
             : " after `attn-harness unpack " + m.path.string() + " -o FOLDER`"));
  switch (data::record_state(*r, hash)) {
    case data::RecordState::damaged:
      throw data::InputError(m.path.string() + ": " + role + " '" + name + "' cannot be read: " +
                             r->damage + "; record it again with " + record_command(m, name, r));
    case data::RecordState::stale:
      throw data::InputError(m.path.string() + ": " + role + " '" + name +
                             "' is stale: it was computed from inputs with hash " + r->input_hash +
                             ", the case's inputs now hash to " + hash +
                             "; record it again with " + record_command(m, name, r));
    case data::RecordState::current:
    case data::RecordState::unverified:
      break;
  }
  return *r;
}

report::CaseComparison judge_case(const std::filesystem::path& path, const JudgeRequest& rq) {
  const data::CaseManifest m = data::read_manifest(path);
  const bool want_baseline = !rq.baseline.empty();
  if (!want_baseline && rq.profile.needs_baseline())
    throw data::InputError("profile " + rq.profile.name + " is relative and needs a baseline");

  // The inputs are needed for their hash (which says what is current) and, when the reference
  // is not cached, to compute it; they are released before the records are read.
  std::string hash;
  ReferenceResult ref;
  {
    const data::CaseInputs in = data::read_case_inputs(m);
    hash = data::input_hash(in);
    require_current_producer(m, rq.candidate, hash, "candidate");
    // An absolute profile judges without the default baseline when the case has none.
    if (want_baseline && (m.find_producer(rq.baseline) || rq.profile.needs_baseline() ||
                          rq.baseline_explicit))
      require_current_producer(m, rq.baseline, hash, "baseline");
    ref = ensure_reference(m, in, hash, rq.reference);
  }
  const data::RecordInfo& cand_info = *m.find_producer(rq.candidate);
  data::ProducerOutputs candidate{cand_info.name, cand_info.provenance, cand_info.input_hash,
                                  data::read_record(m, cand_info)};
  std::optional<data::ProducerOutputs> baseline;
  if (want_baseline)
    if (const data::RecordInfo* b = m.find_producer(rq.baseline))
      baseline = data::ProducerOutputs{b->name, b->provenance, b->input_hash, data::read_record(m, *b)};

  report::CaseComparison c = report::compare_case(m.config, m.valid_len, ref.reference, candidate,
                                                  baseline ? &*baseline : nullptr, rq.profile,
                                                  rq.options);
  c.case_path = path.string();
  c.input_hash = hash;
  for (const data::ProducerOutputs* p : {&candidate, baseline ? &*baseline : nullptr})
    if (p && p->input_hash.empty())
      c.notes.push_back(p->name + " was recorded without an input hash (a schema-1 file), so "
                        "nothing ties it to these inputs; `attn-harness migrate` stamps it");
  if (!ref.cached && !ref.not_cached.empty())
    c.notes.push_back("the reference was computed but not cached: " + ref.not_cached);
  return c;
}

}  // namespace attn::cli

#include "harness/judge_case.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "datasets/case_file.hpp"
#include "datasets/errors.hpp"

namespace attn::cli {

std::string producer_list(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

namespace {

/// A producer may record only some tensors (flex on CPU records out alone): its provenance
/// attribute `tensors` then lists them ("out", "out,lse"; "all" or absent: everything), and
/// only those are judged.
report::GateProfile restrict_to_recorded(report::GateProfile profile,
                                         const data::ProducerOutputs& candidate) {
  const auto it = candidate.provenance.find("tensors");
  if (it == candidate.provenance.end() || it->second == "all") return profile;
  std::set<std::string> listed;
  std::stringstream list(it->second);
  for (std::string item; std::getline(list, item, ',');) listed.insert(item);
  for (auto r = profile.rules.begin(); r != profile.rules.end();) {
    const std::string kind = r->first.substr(0, r->first.find_first_of("0123456789"));
    if (listed.count(r->first) || listed.count(kind))
      ++r;
    else
      r = profile.rules.erase(r);
  }
  if (profile.rules.empty())
    throw data::InputError("producer '" + candidate.name + "' records only '" + it->second +
                           "', none of which profile " + profile.name + " judges");
  return profile;
}

}  // namespace

report::CaseComparison judge_case(const std::filesystem::path& path, const JudgeRequest& rq) {
  const data::CaseInputs in = data::read_case_inputs(path);
  const std::vector<std::string> producers = data::list_producers(path);
  const auto has = [&](const std::string& n) {
    return std::find(producers.begin(), producers.end(), n) != producers.end();
  };
  if (!has(rq.candidate))
    throw data::InputError(path.string() + ": no recorded producer '" + rq.candidate +
                           "' to judge (producers: " + producer_list(producers) +
                           "); record one with `attn-harness run` or write /outputs/" +
                           rq.candidate);
  const bool want_baseline = !rq.baseline.empty();
  if (want_baseline && !has(rq.baseline) && (rq.profile.needs_baseline() || rq.baseline_explicit))
    throw data::InputError(
        path.string() + ": no recorded baseline producer '" + rq.baseline + "' (producers: " +
        producer_list(producers) + ")" +
        (rq.profile.needs_baseline()
             ? "; profile " + rq.profile.name + " is relative and needs one (an absolute profile "
               "such as abs-bf16 judges without a baseline)"
             : ""));
  if (!want_baseline && rq.profile.needs_baseline())
    throw data::InputError("profile " + rq.profile.name + " is relative and needs a baseline");

  const data::ProducerOutputs candidate = data::read_producer(path, rq.candidate, in);
  std::optional<data::ProducerOutputs> baseline;
  if (want_baseline && has(rq.baseline)) baseline = data::read_producer(path, rq.baseline, in);
  const ReferenceResult ref = ensure_reference(path, in, rq.reference);

  const report::GateProfile profile = restrict_to_recorded(rq.profile, candidate);
  report::CaseComparison c = report::compare_case(in, ref.reference, candidate,
                                                  baseline ? &*baseline : nullptr, profile,
                                                  rq.options);
  c.case_path = path.string();
  c.input_hash = data::input_hash(in);
  return c;
}

}  // namespace attn::cli

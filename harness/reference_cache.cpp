#include "harness/reference_cache.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "datasets/errors.hpp"
#include "datasets/utc_time.hpp"
#include "harness/build_info.hpp"
#include "harness/progress.hpp"
#include "harness/reference_adapter.hpp"
#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"

namespace attn::cli {

ReferenceResult ensure_reference(const data::CaseManifest& m, const data::CaseInputs& in,
                                 const std::string& hash, const ReferenceOptions& opt) {
  if (opt.form != "structured" && opt.form != "dense")
    throw data::InputError("--form must be 'structured' or 'dense', found '" + opt.form + "'");
  ReferenceResult result;
  if (!opt.force && m.reference &&
      data::record_state(*m.reference, hash) == data::RecordState::current) {
    result.reference.name = "reference";
    result.reference.provenance = m.reference->provenance;
    result.reference.input_hash = hash;
    result.reference.outputs = data::read_record(m, *m.reference);
    result.cached = true;
    return result;
  }

  const auto problem = reference_problem(in);
  Progress progress("reference (" + opt.form + ", fp64)", opt.quiet);
  const auto start = std::chrono::steady_clock::now();
  ref::TttResult r;
  if (opt.form == "dense") {
    r = ref::dense_reference(problem->view);
  } else {
    ref::StructuredOptions so;
    so.threads = opt.threads;
    so.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
    r = ref::structured_reference(problem->view, so);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.finish();

  result.computed = true;
  result.reference.name = "reference";
  result.reference.input_hash = hash;
  result.reference.provenance = {{"backend", "reference-fp64-" + opt.form},
                                 {"device", "cpu"},
                                 {"dtype", "f64"},
                                 {"invalid_rows", "zeros"},
                                 {"attn_harness_version", kVersion},
                                 {"commit", kCommit},
                                 {"time", data::utc_timestamp()},
                                 {"seconds", std::to_string(result.seconds)}};
  result.reference.outputs = reference_outputs(std::move(r), in.config);
  result.not_cached = data::record_write_blocker(m, data::kReferenceFileName);
  if (result.not_cached.empty()) {
    try {
      data::write_reference(m, result.reference);
      result.cached = true;
    } catch (const data::InputError& e) {  // e.g. a full disk: the result is still good
      result.not_cached = e.what();
    }
  }
  if (!result.cached && !opt.quiet) {
    std::fprintf(stderr, "reference: not cached: %s\n", result.not_cached.c_str());
  }
  return result;
}

}  // namespace attn::cli

#include "harness/reference_cache.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "datasets/case_file.hpp"
#include "datasets/errors.hpp"
#include "harness/build_info.hpp"
#include "harness/progress.hpp"
#include "harness/reference_adapter.hpp"
#include "references/dense_reference.hpp"
#include "references/structured_reference.hpp"

namespace attn::cli {
namespace {

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

}  // namespace

ReferenceResult ensure_reference(const std::filesystem::path& path, const data::CaseInputs& in,
                                 const ReferenceOptions& opt) {
  if (opt.form != "structured" && opt.form != "dense")
    throw data::InputError("--form must be 'structured' or 'dense', found '" + opt.form + "'");
  const std::string hash = data::input_hash(in);
  ReferenceResult result;
  if (!opt.force) {
    if (auto cached = data::read_cached_reference(path, hash, in)) {
      result.reference = std::move(*cached);
      return result;
    }
  }

  const ref::TttInputs problem = reference_inputs(in);
  Progress progress("reference (" + opt.form + ", fp64)", opt.quiet);
  const auto start = std::chrono::steady_clock::now();
  ref::TttResult r;
  if (opt.form == "dense") {
    r = ref::dense_reference(problem);
  } else {
    ref::StructuredOptions so;
    so.threads = opt.threads;
    so.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
    r = ref::structured_reference(problem, so);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.finish();

  result.computed = true;
  result.reference.name = "reference";
  result.reference.provenance = {{"backend", "reference-fp64-" + opt.form},
                                 {"device", "cpu"},
                                 {"dtype", "f64"},
                                 {"attn_harness_version", kVersion},
                                 {"commit", kCommit},
                                 {"time", utc_now()},
                                 {"seconds", std::to_string(result.seconds)}};
  result.reference.outputs = reference_outputs(std::move(r), in.config);
  if (::access(path.c_str(), W_OK) == 0) {
    data::write_cached_reference(path, result.reference, hash);
  } else if (!opt.quiet) {
    std::fprintf(stderr, "reference: %s is read-only; the reference was not cached\n",
                 path.c_str());
  }
  return result;
}

}  // namespace attn::cli

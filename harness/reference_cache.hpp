// The fp64 reference of a case, computed once and cached in the case file under /reference,
// keyed by the hash of the inputs (a changed input invalidates it).
#pragma once

#include <filesystem>
#include <string>

#include "datasets/case.hpp"

namespace attn::cli {

struct ReferenceOptions {
  bool force = false;               ///< recompute even when the cache is current
  std::string form = "structured";  ///< "structured" or "dense"
  int threads = 0;                  ///< 0: all cores
  bool quiet = false;               ///< no progress on stderr
};

struct ReferenceResult {
  data::ProducerOutputs reference;
  bool computed = false;  ///< false: read from the cache
  double seconds = 0.0;   ///< compute time when computed
};

/// Returns the current cached reference or computes, stores and returns it. A read-only
/// case file is not written: the reference is computed and returned uncached.
ReferenceResult ensure_reference(const std::filesystem::path& path, const data::CaseInputs& in,
                                 const ReferenceOptions& opt);

}  // namespace attn::cli

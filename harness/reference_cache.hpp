// The fp64 reference of a case, computed once and cached in the case folder as reference.h5,
// tied to the inputs by their hash (changed inputs make it stale, and it is computed again).
#pragma once

#include <string>

#include "datasets/case_store.hpp"

namespace attn::cli {

struct ReferenceOptions {
  bool force = false;               ///< recompute even when the cache is current
  std::string form = "structured";  ///< "structured" or "dense"
  int threads = 0;                  ///< 0: all cores
  bool quiet = false;               ///< no progress and no notes on stderr
};

struct ReferenceResult {
  data::ProducerOutputs reference;
  bool computed = false;   ///< false: read from the cache
  double seconds = 0.0;    ///< compute time when computed
  bool cached = false;     ///< the case's reference.h5 now holds it
  std::string not_cached;  ///< when computed but not cached: why (the case cannot be written)
};

/// Returns the current cached reference, or computes it and caches it where the case can be
/// written. `in` are the case's inputs, `hash` their input hash. When the case cannot be
/// written (a bundle, a folder this process cannot write, a reference.h5 marked read-only) the
/// reference is computed and returned uncached, and the reason is printed once on stderr
/// (unless quiet). A cached reference holding NaN or Inf is an InputError.
ReferenceResult ensure_reference(const data::CaseManifest& m, const data::CaseInputs& in,
                                 const std::string& hash, const ReferenceOptions& opt);

}  // namespace attn::cli

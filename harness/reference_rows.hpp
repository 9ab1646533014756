// The fp64 reference of one row, for `inspect --at`: read from the cached reference when it is
// current, else computed for that row alone.
#pragma once

#include <cstdint>
#include <string>

#include "datasets/case_store.hpp"

namespace attn::cli {

struct ReferenceRows {
  data::Tensor value;  ///< the row of `tensor` at (b, x, row): [D], or [1] for lse; fp64
  double lse = 0;      ///< the reference lse of query row (b, x, row); 0 for dk/dv rows
  std::string source;  ///< "cached" or "computed for this row"
};

/// Row `row` of reference tensor `tensor` ("out", "lse", "dq", "dk<m>", "dv<m>") at batch
/// element b and head x (a kv head for dk/dv). `in` and `hash` are the case's inputs and their
/// hash.
ReferenceRows reference_rows(const data::CaseManifest& m, const data::CaseInputs& in,
                             const std::string& hash, const std::string& tensor, int64_t b,
                             int64_t x, int64_t row, bool quiet);

}  // namespace attn::cli

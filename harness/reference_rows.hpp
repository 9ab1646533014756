// The fp64 reference of one row, for `inspect --at`: read from the cached reference when it is
// current, else computed for that row alone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "datasets/case_store.hpp"

namespace attn::cli {

struct ReferenceRows {
  data::Tensor value;  ///< the row of `tensor` at (b, x, row): [D], or [1] for lse; fp64
  double lse = 0;      ///< the reference lse of query row (b, x, row); 0 for dk/dv rows
  std::string source;  ///< "cached" or "computed for this row"
};

struct ReferenceProblem;

/// Rows of the reference of one case. `m`, `in` and `hash` (the case's manifest, inputs and
/// their hash) must outlive it; the fp64 copy of the inputs the row reference needs is made
/// once, on first use.
class ReferenceRowSource {
 public:
  ReferenceRowSource(const data::CaseManifest& m, const data::CaseInputs& in, std::string hash,
                     bool quiet);
  ~ReferenceRowSource();

  /// Row `row` of reference tensor `tensor` ("out", "lse", "dq", "dk<m>", "dv<m>") at batch
  /// element b and head x (a kv head for dk/dv).
  ReferenceRows rows(const std::string& tensor, int64_t b, int64_t x, int64_t row);

 private:
  const data::CaseManifest& m_;
  const data::CaseInputs& in_;
  std::string hash_;
  bool quiet_;
  std::unique_ptr<ReferenceProblem> problem_;
};

}  // namespace attn::cli

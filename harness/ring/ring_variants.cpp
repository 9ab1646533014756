#include "harness/ring/ring_variants.hpp"

namespace attn::cli {

const std::vector<RingVariant>& ring_variants() {
  static const std::vector<RingVariant> v{
      {"ring",
       "TTT attention over P ranks: block 0 by key/value chunks passed around the ring and "
       "merged by their LSE, singletons merged as in the flash path, hand-written ring backward",
       ""},
      {"ring-mutant-own-lse",
       "the defect that shipped, inside the ring: block 0's ring backward is fed grad_out * "
       "exp(lse0 - lse) with block 0's own ring-merged out0 and lse0 instead of the merged out "
       "and lse (dq and dk0 lose the singletons' share)",
       "t = 0"},
      {"ring-mutant-chunk-own-lse",
       "each key/value chunk's backward is fed grad_out * exp(lse_c - lse) with that chunk's own "
       "partial out_c and lse_c (the ring merge's LSE gradient dropped)",
       "world 1 with t = 0"},
      {"ring-mutant-diag-skip",
       "the backward's causal skip also skips the diagonal chunk (j >= r instead of j > r): no "
       "dq, dk0, dv0 from a rank's own chunk; the forward is correct",
       ""},
      {"ring-mutant-missing-rotation",
       "the backward omits the last rotation that returns the dk0/dv0 accumulators to their "
       "owners: each rank records its successor's chunk gradients",
       "world 1"},
  };
  return v;
}

const RingVariant* find_ring_variant(const std::string& name) {
  for (const RingVariant& v : ring_variants())
    if (v.name == name) return &v;
  return nullptr;
}

}  // namespace attn::cli

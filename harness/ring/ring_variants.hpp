// The ring backends by name: `ring` (TTT attention over P ranks of a torch.distributed process
// group, kernels/ring/, docs/ring.md) and its mutants for the ring self-test. The Python side
// implements them (kernels/ring/ring_variants.py holds the same catalogue; the ctest ring_cli
// checks that the two agree).
#pragma once

#include <string>
#include <vector>

namespace attn::cli {

struct RingVariant {
  std::string name;            ///< backend name: "ring" or "ring-mutant-..."
  std::string summary;         ///< what it computes, or what it gets wrong
  std::string invisible_when;  ///< cases that cannot show the defect ("" for every case / ring)
  bool mutant() const { return name != "ring"; }
};

/// `ring` first, then the mutants, in a stable order.
const std::vector<RingVariant>& ring_variants();

/// The variant called `name`; nullptr for any other name.
const RingVariant* find_ring_variant(const std::string& name);

}  // namespace attn::cli

// The mutants: defective variants of the flash path (FlashOptions::Defect) that the gate
// self-test (`attn-harness selftest`, harness/selftest/) must catch. Each entry says what it
// gets wrong, which cases cannot show it, and which check is expected to see it. The backends
// themselves are in registry.hpp's mutant_backends().
#pragma once

#include <string>
#include <vector>

#include "kernels/flash_backend.hpp"

namespace attn::kern {

struct MutantInfo {
  /// Which check must flag a mutant: the gate (docs/gate.md), or only the invalid-row
  /// contract check (the defect changes nothing on the elements the gate judges).
  enum class Seen { gate, invalid_rows_only };

  FlashOptions::Defect defect = FlashOptions::Defect::none;
  std::string name;            ///< backend name, e.g. "mutant-own-lse"
  std::string summary;         ///< what it gets wrong
  std::string invisible_when;  ///< cases that cannot show it ("" when every case can)
  Seen seen = Seen::gate;
};

/// Every mutant, in a stable order (the shipped defect first).
const std::vector<MutantInfo>& mutant_catalogue();

/// The entry of a mutant backend name; nullptr when `backend_name` is no mutant.
const MutantInfo* find_mutant(const std::string& backend_name);

/// "block0-own-lse", ...; "none" for Defect::none.
std::string to_string(FlashOptions::Defect d);
/// The catalogue's summary ("" for Defect::none).
std::string describe(FlashOptions::Defect d);
std::string to_string(MutantInfo::Seen s);

}  // namespace attn::kern

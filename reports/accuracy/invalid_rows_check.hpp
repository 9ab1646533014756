// The invalid-row contract a producer declares (docs/design.md, "Padded rows"), checked apart from the
// gate. Declared by the provenance attribute "invalid_rows": "zeros" (out = 0, lse = 0 and no
// gradient from rows i >= valid_len - t: every output tensor is exactly 0 on those rows) or
// "unspecified" (not checked); absent means unspecified.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/case.hpp"

namespace attn::report {

struct InvalidRowsTensor {
  std::string name;
  int64_t elements = 0;    ///< elements on invalid rows
  int64_t violations = 0;  ///< of them not exactly 0 (NaN counts)
  double max_abs = 0;      ///< largest |value| there (NaN when any NaN)
  int64_t rows = 0;        ///< (batch element, head, row) rows holding a violation
  std::string rows_text;   ///< where: "b=1 rows 120-127 (heads 0-31)", the first ranges found
  std::string worst_at;    ///< coordinates of the largest |value|: "b=1 h=3 i=125 d=7"
};

struct InvalidRowsCheck {
  std::string declared = "unspecified";
  bool declared_explicitly = false;  ///< the attribute was present
  bool checked = false;              ///< declared == "zeros"
  bool passed = true;
  std::vector<InvalidRowsTensor> tensors;  ///< when checked: out, lse, dq, dk*, dv*
};

/// Reads the declaration from p.provenance; throws InputError for a value other than
/// "zeros" or "unspecified".
InvalidRowsCheck check_invalid_rows(const data::ProducerOutputs& p,
                                    const std::vector<int64_t>& valid_rows, int64_t t);

}  // namespace attn::report

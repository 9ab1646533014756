// The hash that ties a case's recorded outputs and cached reference to the inputs they were
// computed from. Computed from the inputs' bytes as stored (no conversion), one tensor per
// thread, at memory speed.
#pragma once

#include <string>

#include "datasets/case.hpp"

namespace attn::data {

/// 16 lowercase hex digits: XXH64 (seed 0) of this byte string (little-endian throughout):
///   "attn-harness inputs v2" and one 0 byte
///   B, H, Hkv, L, D, t            int64 each
///   the dtype name ("bf16", "f32" or "f64") and one 0 byte
///   the scale's fp64 bits          (a scale of 0 counts as 1/sqrt(D), what the writer stores)
///   for q, k0..k<t>, v0..v<t>, valid_len, grad_out in this order: the XXH64 (seed 0) of that
///   tensor's values as stored (bf16 as 2-byte patterns, f32, f64; valid_len as int64), as a
///   uint64.
/// In Python: xxhash.xxh64(header + b"".join(xxh64(t.tobytes()).digest()[::-1] ...)).
/// docs/case-format.md has the recipe. Equal inputs give equal hashes on every machine.
std::string input_hash(const CaseInputs& in);

}  // namespace attn::data

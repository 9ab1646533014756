// XXH64 (Yann Collet's xxHash, 64-bit variant), one-shot, written from the published
// specification (github.com/Cyan4973/xxHash, doc/xxhash_spec.md, "XXH64 Algorithm Description").
// Chosen for the input hash because it runs at memory speed and Python users can reproduce it
// with `pip install xxhash` (xxhash.xxh64(data, seed=0)).
#pragma once

#include <cstddef>
#include <cstdint>

namespace attn::data::detail {

uint64_t xxh64(const void* data, size_t len, uint64_t seed = 0);

}  // namespace attn::data::detail

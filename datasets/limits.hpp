// The sizes attn-harness accepts, checked before any size is multiplied or allocated, and the
// memory check made before large reads. docs/case-format.md ("Limits") states them for users.
#pragma once

#include <cstdint>
#include <string>

namespace attn::data {

inline constexpr int64_t kMaxBatch = int64_t(1) << 12;     ///< B <= 4096
inline constexpr int64_t kMaxHeads = int64_t(1) << 12;     ///< H, Hkv <= 4096
inline constexpr int64_t kMaxSeq = int64_t(1) << 20;       ///< L <= 1,048,576 tokens
inline constexpr int64_t kMaxHeadDim = int64_t(1) << 10;   ///< D <= 1024
inline constexpr int64_t kMaxTttStep = 255;                ///< t <= 255 (T <= 256 unrolled steps)
/// One tensor holds at most 2^36 elements (128 GiB of bf16, 512 GiB of fp64).
inline constexpr int64_t kMaxTensorElements = int64_t(1) << 36;

/// Physical memory of this machine (MemTotal, or a smaller cgroup limit), in bytes; 0 when
/// unknown.
uint64_t physical_memory_bytes();

/// Throws InputError when `bytes` exceed the machine's physical memory: "<what> needs 14.2 GiB
/// of memory; this machine has 8.0 GiB". Unknown memory passes.
void require_memory(uint64_t bytes, const std::string& what);

/// "14.2 GiB", "512 MiB", "3.0 KiB", "17 bytes".
std::string byte_size_text(uint64_t bytes);

}  // namespace attn::data

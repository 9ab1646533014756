// Fused CUDA kernels for the singleton part of the flash + LSE path (see
// kernels/detail/singleton_merge.hpp for the math). Plain pointers and strides, no ATen, so
// the .cu files compile quickly with nvcc; the ATen glue is in detail/singleton_merge.cpp.
// Math in fp32; one warp per query row (forward) or per (b, kv head, row) (backward), so GQA
// sums over the heads of a group happen in registers, without atomics.
#pragma once

#include <cstdint>

namespace attn::kern::cuda {

constexpr int kMaxSingletons = 16;  ///< t
constexpr int kMaxGroup = 16;       ///< H / Hkv
constexpr int kMaxHeadDim = 256;    ///< D

enum class Elem { bf16, f16, f32 };

/// Strides (in elements) of a [B, heads, L, D] tensor whose last dimension is contiguous.
struct Strides3 {
  int64_t b = 0, h = 0, l = 0;
};

struct Shape {
  int64_t B = 0, H = 0, Hkv = 0, L = 0, D = 0, t = 0;
};

struct MergeFwdParams {
  Elem elem = Elem::bf16;
  Shape shape;
  float scale = 0.f;
  const void* q = nullptr;     Strides3 q_st;
  const void* out0 = nullptr;  Strides3 out0_st;
  const float* lse0 = nullptr; Strides3 lse0_st;  ///< l: stride of i; b, h as usual
  const void* k[kMaxSingletons] = {};  ///< blocks 1..t, contiguous [B, Hkv, L, D]
  const void* v[kMaxSingletons] = {};
  const int64_t* rows = nullptr;  ///< [B] valid rows, device memory
  void* out = nullptr;            ///< contiguous [B, H, L, D], element type `elem`
  float* lse = nullptr;           ///< contiguous [B, H, L]
};

struct MergeBwdParams {
  Elem elem = Elem::bf16;
  Shape shape;
  float scale = 0.f;
  const void* q = nullptr;    Strides3 q_st;
  const void* g = nullptr;    Strides3 g_st;    ///< zero on invalid rows
  const void* out = nullptr;  Strides3 out_st;  ///< merged output
  const float* lse = nullptr;                   ///< merged, contiguous [B, H, L]
  const void* k[kMaxSingletons] = {};
  const void* v[kMaxSingletons] = {};
  const int64_t* rows = nullptr;
  float* dq = nullptr;                 ///< contiguous [B, H, L, D] fp32 (written, not accumulated)
  void* dk[kMaxSingletons] = {};       ///< contiguous [B, Hkv, L, D], element type `elem`
  void* dv[kMaxSingletons] = {};
};

/// Launch on `stream` (a cudaStream_t). Returns a cudaError_t value (0 = success).
int launch_merge_fwd(const MergeFwdParams& p, void* stream);
int launch_merge_bwd(const MergeBwdParams& p, void* stream);
const char* error_string(int cuda_error);

}  // namespace attn::kern::cuda

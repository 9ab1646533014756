// Fused CUDA kernels for the singleton part of the flash + LSE path (see
// kernels/detail/singleton_merge.hpp for the math). Plain pointers and strides, no ATen, so
// the .cu files compile quickly with nvcc; the ATen glue is in detail/singleton_merge.cpp.
// Math in fp32; one warp per query row (forward) or per (b, kv head, row) (backward), so GQA
// sums over the heads of a group happen in registers, without atomics.
// Every [B, heads, L, D] tensor is passed with its own strides (last dimension contiguous), so
// the [B, L, heads, D] storage that projections produce is read and written without copies.
#pragma once

#include <cstdint>

namespace attn::kern::cuda {

constexpr int kMaxSingletons = 16;  ///< t
constexpr int kMaxGroup = 16;       ///< H / Hkv
constexpr int kMaxHeadDim = 256;    ///< D

enum class Elem { bf16, f16, f32 };

/// Strides (in elements) of a [B, heads, L, D] tensor whose last dimension is contiguous
/// (for a [B, heads, L] tensor: the strides of its three dimensions).
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
  const float* lse0 = nullptr; Strides3 lse0_st;
  const void* k[kMaxSingletons] = {};  Strides3 k_st[kMaxSingletons];  ///< blocks 1..t
  const void* v[kMaxSingletons] = {};  Strides3 v_st[kMaxSingletons];
  const int64_t* rows = nullptr;  ///< [B] valid rows, device memory
  /// Element type `elem`. May be out0 itself: every element of out0 is read by the thread that
  /// then writes the same element of out.
  void* out = nullptr;         Strides3 out_st;
  float* lse = nullptr;        ///< contiguous [B, H, L]; must not alias lse0
};

struct MergeBwdParams {
  Elem elem = Elem::bf16;
  Shape shape;
  float scale = 0.f;
  const void* q = nullptr;    Strides3 q_st;
  const void* g = nullptr;    Strides3 g_st;    ///< not read on invalid rows
  const void* out = nullptr;  Strides3 out_st;  ///< merged output
  const float* lse = nullptr;                   ///< merged, contiguous [B, H, L]
  const void* k[kMaxSingletons] = {};  Strides3 k_st[kMaxSingletons];
  const void* v[kMaxSingletons] = {};  Strides3 v_st[kMaxSingletons];
  const int64_t* rows = nullptr;
  /// -1: every block 1..t; otherwise only block `block` + 1 (its dk and dv; dq must be null).
  int block = -1;
  /// dq = dq0 + s sum_m dc_m k_m,i, summed in fp32 and rounded once to `elem`. dq null: no dq;
  /// dq0 null: the singleton part alone; dq may be dq0 itself (read, then written, per element).
  const void* dq0 = nullptr;  Strides3 dq0_st;
  void* dq = nullptr;         Strides3 dq_st;
  /// Block m + 1's gradients, [B, Hkv, L, D] of element type `elem`; null: not written.
  void* dk[kMaxSingletons] = {};  Strides3 dk_st[kMaxSingletons];
  void* dv[kMaxSingletons] = {};  Strides3 dv_st[kMaxSingletons];
  /// false: dk[m], dv[m] are overwritten (rows past the valid ones get 0); true: this launch's
  /// contribution is added to what they hold (fp32 sum, rounded once; invalid rows untouched),
  /// so the steps of a training step can accumulate into one buffer per block.
  bool accumulate[kMaxSingletons] = {};
};

/// Launch on `stream` (a cudaStream_t). Returns a cudaError_t value (0 = success).
int launch_merge_fwd(const MergeFwdParams& p, void* stream);
int launch_merge_bwd(const MergeBwdParams& p, void* stream);
const char* error_string(int cuda_error);

}  // namespace attn::kern::cuda

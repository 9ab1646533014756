// Element loads and stores in fp32 for the fused TTT kernels, and a warp all-reduce.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/ttt_singleton_merge.hpp"

namespace attn::kern::cuda::detail {

constexpr int kWarpsPerBlock = 4;
constexpr int kPerLane = 8;  // kMaxHeadDim / 32

__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ __forceinline__ float load(const __half* p) { return __half2float(*p); }
__device__ __forceinline__ float load(const float* p) { return *p; }

__device__ __forceinline__ void store(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }
__device__ __forceinline__ void store(__half* p, float x) { *p = __float2half_rn(x); }
__device__ __forceinline__ void store(float* p, float x) { *p = x; }

/// Row (b, h, i) of a [B, heads, L, D] tensor with strides `st`.
template <typename T>
__device__ __forceinline__ T* row_ptr(T* base, const Strides3& st, int64_t b, int64_t h, int64_t i) {
  return base + b * st.b + h * st.h + i * st.l;
}

/// Sum over the 32 lanes of a warp, the result in every lane.
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

}  // namespace attn::kern::cuda::detail

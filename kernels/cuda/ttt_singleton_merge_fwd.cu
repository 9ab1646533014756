// Fused forward of the singleton blocks: per valid row (b, h, i), in fp32,
//   c_m = s q_i . k_m,i (m = 1..t),  lse = log(exp(lse0) + sum_m exp(c_m)),
//   out = exp(lse0 - lse) out0 + sum_m exp(c_m - lse) v_m,i   (written in the input dtype);
// invalid rows get out = 0, lse = 0. One warp per row; lane l holds channels l, l + 32, ...
//
// Contract of merge_fwd_kernel: grid = ceil(B H L / kWarpsPerBlock) blocks of kWarpsPerBlock
// warps; warp w of block x owns row r = x kWarpsPerBlock + w = (b H + h) L + i (returns when
// r >= B H L) and is the only writer of out row (b, h, i) and lse[r] (lse contiguous [B, H, L]);
// it reads q (b, h, i), lse0, out0 (b, h, i) and k_m, v_m rows (b, h / G, i), with 64-bit
// element offsets from the strides. out may alias out0: each lane reads element d of out0
// before writing element d of out. Early returns are warp-uniform (one row per warp).
#include "kernels/cuda/ttt_elem.cuh"
#include "kernels/cuda/ttt_singleton_merge.hpp"

namespace attn::kern::cuda {
namespace {

// Passed by value as the kernel's parameter: within the 4 KiB every architecture accepts.
static_assert(sizeof(MergeFwdParams) <= 4096, "MergeFwdParams exceeds the kernel parameter limit");

using detail::kPerLane;
using detail::kWarpsPerBlock;
using detail::load;
using detail::row_ptr;
using detail::store;
using detail::warp_sum;

template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) merge_fwd_kernel(const MergeFwdParams p) {
  const Shape s = p.shape;
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);  // (b H + h) L + i
  if (row >= s.B * s.H * s.L) return;
  const int64_t i = row % s.L, h = (row / s.L) % s.H, b = row / (s.L * s.H);
  const int64_t hk = h / (s.H / s.Hkv);
  T* out = row_ptr(static_cast<T*>(p.out), p.out_st, b, h, i);

  if (i >= p.rows[b]) {
    for (int64_t d = lane; d < s.D; d += 32) store(out + d, 0.f);
    if (lane == 0) p.lse[row] = 0.f;
    return;
  }

  const T* q = row_ptr(static_cast<const T*>(p.q), p.q_st, b, h, i);
  float qv[kPerLane];
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) {
    const int64_t d = lane + 32 * j;
    qv[j] = d < s.D ? load(q + d) : 0.f;
  }
  const float lse0 = p.lse0[b * p.lse0_st.b + h * p.lse0_st.h + i * p.lse0_st.l];

  float c[kMaxSingletons];
  float mx = lse0;
#pragma unroll
  for (int m = 0; m < kMaxSingletons; ++m) {
    if (m < s.t) {
      const T* k = row_ptr(static_cast<const T*>(p.k[m]), p.k_st[m], b, hk, i);
      float dot = 0.f;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int64_t d = lane + 32 * j;
        if (d < s.D) dot += qv[j] * load(k + d);
      }
      c[m] = warp_sum(dot) * p.scale;
      mx = fmaxf(mx, c[m]);
    }
  }
  float sum = expf(lse0 - mx);
#pragma unroll
  for (int m = 0; m < kMaxSingletons; ++m)
    if (m < s.t) sum += expf(c[m] - mx);
  const float lse = mx + logf(sum);
  const float w0 = expf(lse0 - lse);
#pragma unroll
  for (int m = 0; m < kMaxSingletons; ++m)
    if (m < s.t) c[m] = expf(c[m] - lse);  // now the singleton weight pi_m

  // out may alias out0: each lane reads element d of out0 before it writes element d of out.
  const T* out0 = row_ptr(static_cast<const T*>(p.out0), p.out0_st, b, h, i);
  for (int64_t d = lane; d < s.D; d += 32) {
    float acc = w0 * load(out0 + d);
#pragma unroll
    for (int m = 0; m < kMaxSingletons; ++m)
      if (m < s.t) acc += c[m] * load(row_ptr(static_cast<const T*>(p.v[m]), p.v_st[m], b, hk, i) + d);
    store(out + d, acc);
  }
  if (lane == 0) p.lse[row] = lse;
}

template <typename T>
int launch(const MergeFwdParams& p, cudaStream_t stream) {
  const int64_t rows = p.shape.B * p.shape.H * p.shape.L;
  if (rows == 0) return 0;
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (blocks > int64_t(0x7fffffff)) return int(cudaErrorInvalidConfiguration);  // grid.x limit
  merge_fwd_kernel<T><<<unsigned(blocks), kWarpsPerBlock * 32, 0, stream>>>(p);
  return int(cudaGetLastError());
}

}  // namespace

int launch_merge_fwd(const MergeFwdParams& p, void* stream) {
  if (p.shape.D > kMaxHeadDim || p.shape.t > kMaxSingletons || p.shape.t < 0 || p.shape.Hkv <= 0)
    return int(cudaErrorInvalidValue);
  const auto st = static_cast<cudaStream_t>(stream);
  switch (p.elem) {
    case Elem::bf16: return launch<__nv_bfloat16>(p, st);
    case Elem::f16: return launch<__half>(p, st);
    case Elem::f32: return launch<float>(p, st);
  }
  return int(cudaErrorInvalidValue);
}

const char* error_string(int cuda_error) { return cudaGetErrorString(cudaError_t(cuda_error)); }

}  // namespace attn::kern::cuda

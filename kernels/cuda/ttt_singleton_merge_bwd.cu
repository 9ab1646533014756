// Fused backward of the singleton blocks, fp32 math. One warp per (b, kv head hk, row i): row i
// of dk_m and dv_m receives gradient only from row i of the G query heads of group hk, so the
// GQA sum happens in registers and every output element is written by exactly one warp.
// For each head h of the group, with g zero on invalid rows:
//   delta = g_i . out_i,  pi_m = exp(s q_i.k_m,i - lse_i),  dc_m = pi_m (g_i . v_m,i - delta),
//   dq_i  = s sum_m dc_m k_m,i                (fp32, the singleton part only)
//   dk_m,i = s sum_h dc_m q_i,   dv_m,i = sum_h pi_m g_i   (input dtype)
#include "kernels/cuda/ttt_elem.cuh"
#include "kernels/cuda/ttt_singleton_merge.hpp"

namespace attn::kern::cuda {
namespace {

using detail::kPerLane;
using detail::kWarpsPerBlock;
using detail::load;
using detail::store;
using detail::warp_sum;

template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) merge_bwd_kernel(const MergeBwdParams p) {
  __shared__ float s_pi[kWarpsPerBlock][kMaxGroup][kMaxSingletons];
  __shared__ float s_dc[kWarpsPerBlock][kMaxGroup][kMaxSingletons];
  const Shape s = p.shape;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t kv_row = int64_t(blockIdx.x) * kWarpsPerBlock + warp;  // (b Hkv + hk) L + i
  if (kv_row >= s.B * s.Hkv * s.L) return;
  const int64_t i = kv_row % s.L, hk = (kv_row / s.L) % s.Hkv, b = kv_row / (s.L * s.Hkv);
  const int64_t G = s.H / s.Hkv;
  const int64_t kv = kv_row * s.D;

  if (i >= p.rows[b]) {
    for (int64_t g = 0; g < G; ++g) {
      float* dq = p.dq + ((b * s.H + hk * G + g) * s.L + i) * s.D;
      for (int64_t d = lane; d < s.D; d += 32) dq[d] = 0.f;
    }
    for (int m = 0; m < s.t; ++m)
      for (int64_t d = lane; d < s.D; d += 32) {
        store(static_cast<T*>(p.dk[m]) + kv + d, 0.f);
        store(static_cast<T*>(p.dv[m]) + kv + d, 0.f);
      }
    return;
  }

  for (int64_t g = 0; g < G; ++g) {
    const int64_t h = hk * G + g;
    const T* q = static_cast<const T*>(p.q) + b * p.q_st.b + h * p.q_st.h + i * p.q_st.l;
    const T* go = static_cast<const T*>(p.g) + b * p.g_st.b + h * p.g_st.h + i * p.g_st.l;
    const T* out = static_cast<const T*>(p.out) + b * p.out_st.b + h * p.out_st.h + i * p.out_st.l;
    float qv[kPerLane], gv[kPerLane], dq[kPerLane];
    float delta = 0.f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + 32 * j;
      qv[j] = d < s.D ? load(q + d) : 0.f;
      gv[j] = d < s.D ? load(go + d) : 0.f;
      delta += d < s.D ? gv[j] * load(out + d) : 0.f;
      dq[j] = 0.f;
    }
    delta = warp_sum(delta);
    const float lse = p.lse[(b * s.H + h) * s.L + i];
    for (int m = 0; m < s.t; ++m) {
      const T* k = static_cast<const T*>(p.k[m]) + kv;
      const T* v = static_cast<const T*>(p.v[m]) + kv;
      float kr[kPerLane], qk = 0.f, gvd = 0.f;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int64_t d = lane + 32 * j;
        kr[j] = d < s.D ? load(k + d) : 0.f;
        qk += qv[j] * kr[j];
        gvd += d < s.D ? gv[j] * load(v + d) : 0.f;
      }
      const float pi = expf(warp_sum(qk) * p.scale - lse);
      const float dc = pi * (warp_sum(gvd) - delta);
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) dq[j] += p.scale * dc * kr[j];
      if (lane == 0) {
        s_pi[warp][g][m] = pi;
        s_dc[warp][g][m] = dc;
      }
    }
    float* dq_out = p.dq + ((b * s.H + h) * s.L + i) * s.D;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + 32 * j;
      if (d < s.D) dq_out[d] = dq[j];
    }
  }
  __syncwarp();

  for (int m = 0; m < s.t; ++m) {
    float dk[kPerLane], dv[kPerLane];
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) dk[j] = dv[j] = 0.f;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t h = hk * G + g;
      const T* q = static_cast<const T*>(p.q) + b * p.q_st.b + h * p.q_st.h + i * p.q_st.l;
      const T* go = static_cast<const T*>(p.g) + b * p.g_st.b + h * p.g_st.h + i * p.g_st.l;
      const float pi = s_pi[warp][g][m], dc = s_dc[warp][g][m];
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int64_t d = lane + 32 * j;
        if (d < s.D) {
          dk[j] += dc * load(q + d);
          dv[j] += pi * load(go + d);
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + 32 * j;
      if (d < s.D) {
        store(static_cast<T*>(p.dk[m]) + kv + d, p.scale * dk[j]);
        store(static_cast<T*>(p.dv[m]) + kv + d, dv[j]);
      }
    }
  }
}

template <typename T>
int launch(const MergeBwdParams& p, cudaStream_t stream) {
  const int64_t rows = p.shape.B * p.shape.Hkv * p.shape.L;
  if (rows == 0) return 0;
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  merge_bwd_kernel<T><<<unsigned(blocks), kWarpsPerBlock * 32, 0, stream>>>(p);
  return int(cudaGetLastError());
}

}  // namespace

int launch_merge_bwd(const MergeBwdParams& p, void* stream) {
  if (p.shape.D > kMaxHeadDim || p.shape.t > kMaxSingletons || p.shape.t < 0 ||
      p.shape.Hkv <= 0 || p.shape.H / p.shape.Hkv > kMaxGroup)
    return int(cudaErrorInvalidValue);
  const auto st = static_cast<cudaStream_t>(stream);
  switch (p.elem) {
    case Elem::bf16: return launch<__nv_bfloat16>(p, st);
    case Elem::f16: return launch<__half>(p, st);
    case Elem::f32: return launch<float>(p, st);
  }
  return int(cudaErrorInvalidValue);
}

}  // namespace attn::kern::cuda

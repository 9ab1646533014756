// Fused backward of the singleton blocks, fp32 math. One warp per (b, kv head hk, row i): row i
// of dk_m and dv_m receives gradient only from row i of the G query heads of group hk, so the
// GQA sum happens in registers and every output element is written by exactly one warp.
// For each head h of the group, with g zero on invalid rows:
//   delta = g_i . out_i,  pi_m = exp(s q_i.k_m,i - lse_i),  dc_m = pi_m (g_i . v_m,i - delta),
//   dq_i  = dq0_i + s sum_m dc_m k_m,i        (summed in fp32, rounded once)
//   dk_m,i = s sum_h dc_m q_i,   dv_m,i = sum_h pi_m g_i   (input dtype)
// A launch computes dq and every block in one pass over q, grad_out, out and lse (the training
// path: each block's dk, dv written or added into its buffer, MergeBwdParams::accumulate), or
// one block's dk and dv alone (MergeBwdParams::block).
//
// Contract of merge_bwd_kernel:
//   grid  = ceil(B Hkv L / kWarpsPerBlock) blocks of kWarpsPerBlock warps (B Hkv L <= 2^31 - 1
//           warps' worth: 64 heads x 32768 rows is 2^21); warp w of block x owns kv row
//           r = x kWarpsPerBlock + w = (b Hkv + hk) L + i and returns at once when r >= B Hkv L.
//   reads  q, g, out rows (b, h, i) of the G heads h = hk G .. hk G + G - 1, lse[b, h, i],
//          k_m, v_m rows (b, hk, i), dq0 rows (b, h, i), and (accumulate) dk_m, dv_m rows
//          (b, hk, i); all through 64-bit element offsets b st.b + h st.h + i st.l + d.
//   writes dq rows (b, h, i) of its G heads and dk_m, dv_m rows (b, hk, i): no element is
//          written by two warps, and each thread reads an element of dq0 / dk_m / dv_m before
//          it writes the same element, so dq may alias dq0 and accumulation is in place.
//   shared s_pi / s_dc[warp][g][m]: written by lane 0 of warp `warp` only, read by that
//          warp's lanes after __syncwarp(); early returns are warp-uniform (r and the row's
//          validity are per warp), so every __shfl_xor_sync / __syncwarp sees 32 lanes.
#include "kernels/cuda/ttt_elem.cuh"
#include "kernels/cuda/ttt_singleton_merge.hpp"

namespace attn::kern::cuda {
namespace {

// Passed by value as the kernel's parameter: within the 4 KiB every architecture accepts.
static_assert(sizeof(MergeBwdParams) <= 4096, "MergeBwdParams exceeds the kernel parameter limit");

using detail::kPerLane;
using detail::kWarpsPerBlock;
using detail::load;
using detail::row_ptr;
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
  const int m_begin = p.block < 0 ? 0 : p.block;
  const int m_end = p.block < 0 ? int(s.t) : p.block + 1;

  auto write_dq = [&](int64_t h, const float* part) {  // dq = dq0 + part, per lane's channels
    const T* dq0 = p.dq0 ? row_ptr(static_cast<const T*>(p.dq0), p.dq0_st, b, h, i) : nullptr;
    T* dq = row_ptr(static_cast<T*>(p.dq), p.dq_st, b, h, i);
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + 32 * j;
      if (d < s.D) store(dq + d, (dq0 ? load(dq0 + d) : 0.f) + part[j]);
    }
  };

  if (i >= p.rows[b]) {
    float zero[kPerLane] = {};
    if (p.dq)
      for (int64_t g = 0; g < G; ++g) write_dq(hk * G + g, zero);
    for (int m = m_begin; m < m_end; ++m) {
      if (p.accumulate[m]) continue;  // an invalid row adds nothing
      for (int64_t d = lane; d < s.D; d += 32) {
        if (p.dk[m]) store(row_ptr(static_cast<T*>(p.dk[m]), p.dk_st[m], b, hk, i) + d, 0.f);
        if (p.dv[m]) store(row_ptr(static_cast<T*>(p.dv[m]), p.dv_st[m], b, hk, i) + d, 0.f);
      }
    }
    return;
  }

  for (int64_t g = 0; g < G; ++g) {
    const int64_t h = hk * G + g;
    const T* q = row_ptr(static_cast<const T*>(p.q), p.q_st, b, h, i);
    const T* go = row_ptr(static_cast<const T*>(p.g), p.g_st, b, h, i);
    const T* out = row_ptr(static_cast<const T*>(p.out), p.out_st, b, h, i);
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
    for (int m = m_begin; m < m_end; ++m) {
      const T* k = row_ptr(static_cast<const T*>(p.k[m]), p.k_st[m], b, hk, i);
      const T* v = row_ptr(static_cast<const T*>(p.v[m]), p.v_st[m], b, hk, i);
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
    if (p.dq) write_dq(h, dq);
  }
  __syncwarp();

  for (int m = m_begin; m < m_end; ++m) {
    if (!p.dk[m] && !p.dv[m]) continue;
    float dk[kPerLane], dv[kPerLane];
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) dk[j] = dv[j] = 0.f;
    for (int64_t g = 0; g < G; ++g) {
      const int64_t h = hk * G + g;
      const T* q = row_ptr(static_cast<const T*>(p.q), p.q_st, b, h, i);
      const T* go = row_ptr(static_cast<const T*>(p.g), p.g_st, b, h, i);
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
    T* dk_row = p.dk[m] ? row_ptr(static_cast<T*>(p.dk[m]), p.dk_st[m], b, hk, i) : nullptr;
    T* dv_row = p.dv[m] ? row_ptr(static_cast<T*>(p.dv[m]), p.dv_st[m], b, hk, i) : nullptr;
    const bool acc = p.accumulate[m];
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t d = lane + 32 * j;
      if (d < s.D) {
        // Accumulating: this thread reads the element it then writes (no other warp owns it).
        // __fmul_rn / __fadd_rn are never contracted into an FMA, so the value written is the
        // rounded contribution of overwrite mode (bit for bit) plus the old value, rounded:
        // in f32 exactly what autograd's old + new gives for the same contributions.
        const float dk_m = __fmul_rn(p.scale, dk[j]);
        if (dk_row) store(dk_row + d, acc ? __fadd_rn(load(dk_row + d), dk_m) : dk_m);
        if (dv_row) store(dv_row + d, acc ? __fadd_rn(load(dv_row + d), dv[j]) : dv[j]);
      }
    }
  }
}

template <typename T>
int launch(const MergeBwdParams& p, cudaStream_t stream) {
  const int64_t rows = p.shape.B * p.shape.Hkv * p.shape.L;
  if (rows == 0) return 0;
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (blocks > int64_t(0x7fffffff)) return int(cudaErrorInvalidConfiguration);  // grid.x limit
  merge_bwd_kernel<T><<<unsigned(blocks), kWarpsPerBlock * 32, 0, stream>>>(p);
  return int(cudaGetLastError());
}

}  // namespace

int launch_merge_bwd(const MergeBwdParams& p, void* stream) {
  if (p.shape.D > kMaxHeadDim || p.shape.t > kMaxSingletons || p.shape.t < 0 ||
      p.shape.Hkv <= 0 || p.shape.H / p.shape.Hkv > kMaxGroup || p.block >= p.shape.t ||
      (p.block >= 0 && p.dq))
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

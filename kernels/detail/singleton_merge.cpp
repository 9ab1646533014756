#include "kernels/detail/singleton_merge.hpp"

#include "kernels/detail/ttt_rows.hpp"

#if ATTN_WITH_CUDA
#include <c10/cuda/CUDAStream.h>

#include "kernels/cuda/ttt_singleton_merge.hpp"
#endif

namespace attn::kern::detail {
namespace {

// ---- composed ATen ops; temporaries are [B, H, L] or one [B, H, L, D] at a time ----

MergeForward forward_composed(const at::Tensor& q, at::TensorList k, at::TensorList v,
                              const at::Tensor& out0, const at::Tensor& lse0,
                              const std::vector<int64_t>& rows, double scale,
                              const MergeDefects& defects) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), Hkv = k[0].size(1);
  const int64_t G = H / Hkv, t = int64_t(k.size()) - 1;
  const at::ScalarType acc =
      defects.accumulate_in_input_dtype ? q.scalar_type() : acc_type(q.scalar_type());
  const at::Tensor qa = q.to(acc).reshape({B, Hkv, G, L, D});
  const at::Tensor l0 = lse0.to(acc);

  // Singleton scores, then lse = mx + log(exp(lse0 - mx) + sum_m exp(c_m - mx)).
  std::vector<at::Tensor> c;
  at::Tensor mx = l0.clone();
  for (int64_t m = 1; m <= t; ++m) {
    c.push_back((qa * k[m].to(acc).unsqueeze(2)).sum(-1).mul_(scale).view({B, H, L}));
    mx = at::maximum(mx, c.back());
  }
  at::Tensor sum = at::exp(l0 - mx);
  for (const at::Tensor& cm : c) sum.add_(at::exp(cm - mx));
  at::Tensor lse = mx.add_(sum.log_());

  at::Tensor acc_out = out0.to(acc) * at::exp(l0 - lse).unsqueeze(-1);
  at::Tensor acc5 = acc_out.view({B, Hkv, G, L, D});
  for (int64_t m = 1; m <= t; ++m)
    acc5.addcmul_(at::exp(c[size_t(m - 1)] - lse).view({B, Hkv, G, L, 1}), v[m].to(acc).unsqueeze(2));

  const at::Tensor invalid = valid_row_mask(rows, L, q.device()).logical_not();  // [B, 1, L]
  if (!defects.keep_invalid_rows) {
    acc_out.masked_fill_(invalid.unsqueeze(-1), 0.0);
    lse.masked_fill_(invalid, 0.0);
  }
  MergeForward r;
  r.out = acc_out.to(q.scalar_type());
  r.lse = lse.to(acc_type(q.scalar_type()));
  return r;
}

SingletonGrads backward_composed(const at::Tensor& q, at::TensorList k, at::TensorList v,
                                 const at::Tensor& g, const at::Tensor& out, const at::Tensor& lse,
                                 const std::vector<int64_t>& rows, double scale,
                                 const MergeDefects& defects) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), Hkv = k[0].size(1);
  const int64_t G = H / Hkv, t = int64_t(k.size()) - 1;
  const at::ScalarType acc =
      defects.accumulate_in_input_dtype ? q.scalar_type() : acc_type(q.scalar_type());
  const at::Tensor qa = q.to(acc).reshape({B, Hkv, G, L, D});
  const at::Tensor ga = g.to(acc).reshape({B, Hkv, G, L, D});
  const at::Tensor delta = (ga * out.to(acc).reshape({B, Hkv, G, L, D})).sum(-1);  // [B, Hkv, G, L]
  const at::Tensor l = lse.to(acc).reshape({B, Hkv, G, L});
  const at::Tensor valid = valid_row_mask(rows, L, q.device()).view({B, 1, 1, L});

  SingletonGrads r;
  at::Tensor dq = at::zeros({B, Hkv, G, L, D}, q.options().dtype(acc));
  for (int64_t m = 1; m <= t; ++m) {
    const at::Tensor km = k[m].to(acc).unsqueeze(2), vm = v[m].to(acc).unsqueeze(2);
    const at::Tensor c = (qa * km).sum(-1).mul_(scale);
    const at::Tensor pi = at::where(valid, at::exp(c - l), 0.0);
    const at::Tensor dc = pi * ((ga * vm).sum(-1) - delta);
    dq.addcmul_((dc * scale).unsqueeze(-1), km);
    const at::Tensor dk_heads = qa * dc.unsqueeze(-1);  // [B, Hkv, G, L, D]
    r.dk.push_back((defects.dk_first_group_head ? dk_heads.select(2, 0) : dk_heads.sum(2))
                       .mul(scale)
                       .to(q.scalar_type()));
    r.dv.push_back((ga * pi.unsqueeze(-1)).sum(2).to(q.scalar_type()));
  }
  r.dq = dq.view({B, H, L, D}).to(acc_type(q.scalar_type()));
  return r;
}

#if ATTN_WITH_CUDA

cuda::Elem elem_of(at::ScalarType t) {
  switch (t) {
    case at::kBFloat16: return cuda::Elem::bf16;
    case at::kHalf: return cuda::Elem::f16;
    case at::kFloat: return cuda::Elem::f32;
    default: TORCH_CHECK(false, "fused singleton merge: unsupported dtype ", t);
  }
}

/// Last dimension contiguous, or a contiguous copy.
at::Tensor rows_contiguous(const at::Tensor& x) { return x.stride(-1) == 1 ? x : x.contiguous(); }

cuda::Strides3 strides_of(const at::Tensor& x) { return {x.stride(0), x.stride(1), x.stride(2)}; }

cuda::Shape shape_of(const at::Tensor& q, at::TensorList k) {
  return {q.size(0), q.size(1), k[0].size(1), q.size(2), q.size(3), int64_t(k.size()) - 1};
}

void check(int err, const char* what) {
  TORCH_CHECK(err == 0, what, " failed: ", cuda::error_string(err));
}

void* current_stream(const at::Tensor& x) {
  return static_cast<void*>(c10::cuda::getCurrentCUDAStream(x.device().index()).stream());
}

MergeForward forward_fused(const at::Tensor& q_in, at::TensorList k, at::TensorList v,
                           const at::Tensor& out0_in, const at::Tensor& lse0_in,
                           const std::vector<int64_t>& rows, double scale) {
  const at::Tensor q = rows_contiguous(q_in), out0 = rows_contiguous(out0_in.to(q_in.scalar_type()));
  const at::Tensor lse0 = lse0_in.to(at::kFloat);
  const at::Tensor rows_dev = at::tensor(rows, at::TensorOptions().dtype(at::kLong)).to(q.device());
  std::vector<at::Tensor> keep;
  cuda::MergeFwdParams p;
  p.elem = elem_of(q.scalar_type());
  p.shape = shape_of(q, k);
  p.scale = float(scale);
  p.q = q.data_ptr();
  p.q_st = strides_of(q);
  p.out0 = out0.data_ptr();
  p.out0_st = strides_of(out0);
  p.lse0 = lse0.data_ptr<float>();
  p.lse0_st = {lse0.stride(0), lse0.stride(1), lse0.stride(2)};
  for (size_t m = 1; m < k.size(); ++m) {
    keep.push_back(k[m].contiguous());
    p.k[m - 1] = keep.back().data_ptr();
    keep.push_back(v[m].contiguous());
    p.v[m - 1] = keep.back().data_ptr();
  }
  p.rows = rows_dev.data_ptr<int64_t>();
  MergeForward r;
  r.out = at::empty({p.shape.B, p.shape.H, p.shape.L, p.shape.D}, q.options());
  r.lse = at::empty({p.shape.B, p.shape.H, p.shape.L}, q.options().dtype(at::kFloat));
  p.out = r.out.data_ptr();
  p.lse = r.lse.data_ptr<float>();
  check(cuda::launch_merge_fwd(p, current_stream(q)), "ttt_singleton_merge_fwd");
  return r;
}

SingletonGrads backward_fused(const at::Tensor& q_in, at::TensorList k, at::TensorList v,
                              const at::Tensor& g_in, const at::Tensor& out_in,
                              const at::Tensor& lse_in, const std::vector<int64_t>& rows,
                              double scale) {
  const at::Tensor q = rows_contiguous(q_in), g = rows_contiguous(g_in);
  const at::Tensor out = rows_contiguous(out_in.to(q_in.scalar_type()));
  const at::Tensor lse = lse_in.to(at::kFloat).contiguous();
  const at::Tensor rows_dev = at::tensor(rows, at::TensorOptions().dtype(at::kLong)).to(q.device());
  std::vector<at::Tensor> keep;
  cuda::MergeBwdParams p;
  p.elem = elem_of(q.scalar_type());
  p.shape = shape_of(q, k);
  p.scale = float(scale);
  p.q = q.data_ptr();
  p.q_st = strides_of(q);
  p.g = g.data_ptr();
  p.g_st = strides_of(g);
  p.out = out.data_ptr();
  p.out_st = strides_of(out);
  p.lse = lse.data_ptr<float>();
  p.rows = rows_dev.data_ptr<int64_t>();
  SingletonGrads r;
  for (size_t m = 1; m < k.size(); ++m) {
    keep.push_back(k[m].contiguous());
    p.k[m - 1] = keep.back().data_ptr();
    keep.push_back(v[m].contiguous());
    p.v[m - 1] = keep.back().data_ptr();
    r.dk.push_back(at::empty(k[m].sizes(), k[m].options()));
    r.dv.push_back(at::empty(v[m].sizes(), v[m].options()));
    p.dk[m - 1] = r.dk.back().data_ptr();
    p.dv[m - 1] = r.dv.back().data_ptr();
  }
  r.dq = at::empty(q.sizes(), q.options().dtype(at::kFloat));
  p.dq = r.dq.data_ptr<float>();
  check(cuda::launch_merge_bwd(p, current_stream(q)), "ttt_singleton_merge_bwd");
  return r;
}

#endif  // ATTN_WITH_CUDA

}  // namespace

std::string to_string(MergeImpl m) {
  return m == MergeImpl::composed ? "composed" : "fused-cuda";
}

bool fused_merge_available(const at::Tensor& q, int64_t Hkv, int64_t t, std::string* why) {
  auto no = [why](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
#if ATTN_WITH_CUDA
  if (!q.is_cuda()) return no("tensors are not on a CUDA device");
  const at::ScalarType s = q.scalar_type();
  if (s != at::kBFloat16 && s != at::kHalf && s != at::kFloat)
    return no(std::string("dtype ") + c10::toString(s) + " (fused kernels take bf16, f16, f32)");
  if (q.size(3) > cuda::kMaxHeadDim) return no("head_dim above " + std::to_string(cuda::kMaxHeadDim));
  if (t > cuda::kMaxSingletons) return no("t above " + std::to_string(cuda::kMaxSingletons));
  if (q.size(1) / Hkv > cuda::kMaxGroup) return no("GQA group above " + std::to_string(cuda::kMaxGroup));
  return true;
#else
  (void)q, (void)Hkv, (void)t;
  return no("built without ATTN_WITH_CUDA");
#endif
}

MergeForward merge_forward(MergeImpl impl, const at::Tensor& q, at::TensorList k,
                           at::TensorList v, const at::Tensor& out0, const at::Tensor& lse0,
                           const std::vector<int64_t>& rows, double scale,
                           const MergeDefects& defects) {
  if (impl == MergeImpl::fused_cuda) {
    TORCH_CHECK(!defects.any(), "fused singleton merge: defects exist in the composed merge only");
#if ATTN_WITH_CUDA
    return forward_fused(q, k, v, out0, lse0, rows, scale);
#else
    TORCH_CHECK(false, "fused singleton merge: built without ATTN_WITH_CUDA");
#endif
  }
  return forward_composed(q, k, v, out0, lse0, rows, scale, defects);
}

SingletonGrads merge_backward(MergeImpl impl, const at::Tensor& q, at::TensorList k,
                              at::TensorList v, const at::Tensor& g, const at::Tensor& out,
                              const at::Tensor& lse, const std::vector<int64_t>& rows,
                              double scale, const MergeDefects& defects) {
  if (impl == MergeImpl::fused_cuda) {
    TORCH_CHECK(!defects.any(), "fused singleton merge: defects exist in the composed merge only");
#if ATTN_WITH_CUDA
    return backward_fused(q, k, v, g, out, lse, rows, scale);
#else
    TORCH_CHECK(false, "fused singleton merge: built without ATTN_WITH_CUDA");
#endif
  }
  return backward_composed(q, k, v, g, out, lse, rows, scale, defects);
}

}  // namespace attn::kern::detail

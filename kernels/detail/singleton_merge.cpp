#include "kernels/detail/singleton_merge.hpp"

#include "kernels/detail/ttt_rows.hpp"

#if ATTN_WITH_CUDA
#include <c10/cuda/CUDAStream.h>

#include "kernels/cuda/ttt_singleton_merge.hpp"
#endif

namespace attn::kern::detail {
namespace {

// ---- composed ATen ops; temporaries are [B, H, L] or one [B, H, L, D] at a time ----

at::ScalarType merge_acc(const at::Tensor& q, const MergeDefects& defects) {
  return defects.accumulate_in_input_dtype ? q.scalar_type() : acc_type(q.scalar_type());
}

/// c_m = s q_i . k_m,i for every row ([B, Hkv, G, L]), in `acc`; the bf16-scores mutant does the
/// product and the sum in q's own dtype first (what an early version of the production path did).
at::Tensor singleton_scores(const at::Tensor& q5, const at::Tensor& km, double scale,
                            at::ScalarType acc, const MergeDefects& defects, at::ScalarType input) {
  if (defects.scores_in_input_dtype)
    return (q5.to(input) * km.to(input)).sum(-1).mul_(scale).to(acc);
  return (q5.to(acc) * km.to(acc)).sum(-1).mul_(scale);
}

MergeForward forward_composed(const at::Tensor& q, at::TensorList k, at::TensorList v,
                              const at::Tensor& out0, const at::Tensor& lse0,
                              const std::vector<int64_t>& rows, double scale,
                              const MergeDefects& defects) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), Hkv = k[0].size(1);
  const int64_t G = H / Hkv, t = int64_t(k.size()) - 1;
  const at::ScalarType acc = merge_acc(q, defects);
  const at::Tensor qa = q.to(acc).reshape({B, Hkv, G, L, D});
  const at::Tensor l0 = lse0.to(acc);

  // Singleton scores, then lse = mx + log(exp(lse0 - mx) + sum_m exp(c_m - mx)).
  std::vector<at::Tensor> c;
  at::Tensor mx = l0.clone();
  for (int64_t m = 1; m <= t; ++m) {
    c.push_back(singleton_scores(qa, k[m].unsqueeze(2), scale, acc, defects, q.scalar_type())
                    .view({B, H, L}));
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
  r.lse = lse.to(acc_type(q.scalar_type())).contiguous();
  return r;
}

/// The per-row quantities of the singleton backward, in the merge's accumulation type.
struct ComposedBwd {
  int64_t B, H, L, D, Hkv, G;
  at::ScalarType acc, input;
  MergeDefects defects_;
  at::Tensor qa, ga, delta, lse, valid;  ///< [B, Hkv, G, L(, D)]

  ComposedBwd(const at::Tensor& q, at::TensorList k, const at::Tensor& g, const at::Tensor& out,
              const at::Tensor& l, const std::vector<int64_t>& rows, const MergeDefects& defects)
      : B(q.size(0)), H(q.size(1)), L(q.size(2)), D(q.size(3)), Hkv(k[0].size(1)), G(H / Hkv),
        acc(merge_acc(q, defects)), input(q.scalar_type()), defects_(defects) {
    qa = q.to(acc).reshape({B, Hkv, G, L, D});
    ga = g.to(acc).reshape({B, Hkv, G, L, D});
    delta = (ga * out.to(acc).reshape({B, Hkv, G, L, D})).sum(-1);
    lse = l.to(acc).reshape({B, Hkv, G, L});
    valid = valid_row_mask(rows, L, q.device()).view({B, 1, 1, L});
  }

  /// pi_m and dc_m, [B, Hkv, G, L].
  std::pair<at::Tensor, at::Tensor> weights(const at::Tensor& km, const at::Tensor& vm,
                                            double scale) const {
    const at::Tensor c = singleton_scores(qa, km, scale, acc, defects_, input);
    const at::Tensor pi = at::where(valid, at::exp(c - lse), 0.0);
    const at::Tensor dc = pi * ((ga * vm).sum(-1) - delta);
    return {pi, dc};
  }
};

at::Tensor backward_dq_composed(const at::Tensor& q, at::TensorList k, at::TensorList v,
                                const at::Tensor& g, const at::Tensor& out, const at::Tensor& lse,
                                const std::vector<int64_t>& rows, double scale,
                                const at::Tensor& dq0, const MergeDefects& defects) {
  const ComposedBwd c(q, k, g, out, lse, rows, defects);
  at::Tensor dq = at::zeros({c.B, c.Hkv, c.G, c.L, c.D}, q.options().dtype(c.acc));
  for (size_t m = 1; m < k.size(); ++m) {
    const at::Tensor km = k[m].to(c.acc).unsqueeze(2), vm = v[m].to(c.acc).unsqueeze(2);
    const at::Tensor dc = c.weights(km, vm, scale).second;
    dq.addcmul_((dc * scale).unsqueeze(-1), km);
  }
  const at::ScalarType sum_type = acc_type(q.scalar_type());
  return (dq0.to(sum_type) + dq.view({c.B, c.H, c.L, c.D}).to(sum_type)).to(q.scalar_type());
}

BlockGrads backward_block_composed(int64_t m, const at::Tensor& q, at::TensorList k,
                                   at::TensorList v, const at::Tensor& g, const at::Tensor& out,
                                   const at::Tensor& lse, const std::vector<int64_t>& rows,
                                   double scale, const MergeDefects& defects) {
  const ComposedBwd c(q, k, g, out, lse, rows, defects);
  const at::Tensor km = k[size_t(m)].to(c.acc).unsqueeze(2), vm = v[size_t(m)].to(c.acc).unsqueeze(2);
  const auto [pi, dc] = c.weights(km, vm, scale);
  const at::Tensor dk_heads = c.qa * dc.unsqueeze(-1);  // [B, Hkv, G, L, D]
  BlockGrads r;
  r.dk = (defects.dk_first_group_head ? dk_heads.select(2, 0) : dk_heads.sum(2))
             .mul(scale)
             .to(q.scalar_type());
  r.dv = (c.ga * pi.unsqueeze(-1)).sum(2).to(q.scalar_type());
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

/// Last dimension contiguous (the kernels take any other strides), or a contiguous copy.
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

/// Pointers and strides of the singleton blocks 1..t; `keep` holds any copies made.
template <class Params>
void set_blocks(Params& p, at::TensorList k, at::TensorList v, std::vector<at::Tensor>& keep) {
  for (size_t m = 1; m < k.size(); ++m) {
    keep.push_back(rows_contiguous(k[m]));
    p.k[m - 1] = keep.back().data_ptr();
    p.k_st[m - 1] = strides_of(keep.back());
    keep.push_back(rows_contiguous(v[m]));
    p.v[m - 1] = keep.back().data_ptr();
    p.v_st[m - 1] = strides_of(keep.back());
  }
}

at::Tensor rows_on_device(const std::vector<int64_t>& rows, const at::Tensor& like) {
  return at::tensor(rows, at::TensorOptions().dtype(at::kLong)).to(like.device());
}

MergeForward forward_fused(const at::Tensor& q_in, at::TensorList k, at::TensorList v,
                           const at::Tensor& out0_in, const at::Tensor& lse0_in,
                           const std::vector<int64_t>& rows, double scale, bool out_in_place) {
  const at::Tensor q = rows_contiguous(q_in), out0 = rows_contiguous(out0_in.to(q_in.scalar_type()));
  const at::Tensor lse0 = lse0_in.to(at::kFloat);
  const at::Tensor rows_dev = rows_on_device(rows, q);
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
  set_blocks(p, k, v, keep);
  p.rows = rows_dev.data_ptr<int64_t>();
  MergeForward r;
  // A new output takes q's layout, as the flash kernel's own output does.
  r.out = out_in_place ? out0 : at::empty_like(q);
  r.lse = at::empty({p.shape.B, p.shape.H, p.shape.L}, q.options().dtype(at::kFloat));
  p.out = r.out.data_ptr();
  p.out_st = strides_of(r.out);
  p.lse = r.lse.data_ptr<float>();
  check(cuda::launch_merge_fwd(p, current_stream(q)), "ttt_singleton_merge_fwd");
  return r;
}

/// The parameters both backward launches share.
cuda::MergeBwdParams bwd_params(const at::Tensor& q, at::TensorList k, at::TensorList v,
                                const at::Tensor& g, const at::Tensor& out, const at::Tensor& lse,
                                const at::Tensor& rows_dev, double scale,
                                std::vector<at::Tensor>& keep) {
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
  set_blocks(p, k, v, keep);
  return p;
}

at::Tensor backward_dq_fused(const at::Tensor& q_in, at::TensorList k, at::TensorList v,
                             const at::Tensor& g_in, const at::Tensor& out_in,
                             const at::Tensor& lse_in, const std::vector<int64_t>& rows,
                             double scale, const at::Tensor& dq0_in) {
  const at::Tensor q = rows_contiguous(q_in), g = rows_contiguous(g_in.to(q_in.scalar_type()));
  const at::Tensor out = rows_contiguous(out_in.to(q_in.scalar_type()));
  const at::Tensor lse = lse_in.to(at::kFloat).contiguous();
  const at::Tensor dq = rows_contiguous(dq0_in.to(q_in.scalar_type()));
  if (k.size() <= 1) return dq;
  const at::Tensor rows_dev = rows_on_device(rows, q);
  std::vector<at::Tensor> keep;
  cuda::MergeBwdParams p = bwd_params(q, k, v, g, out, lse, rows_dev, scale, keep);
  p.dq0 = dq.data_ptr();
  p.dq0_st = strides_of(dq);
  p.dq = dq.data_ptr();
  p.dq_st = p.dq0_st;
  check(cuda::launch_merge_bwd(p, current_stream(q)), "ttt_singleton_merge_bwd (dq)");
  return dq;
}

BlockGrads backward_block_fused(int64_t m, const at::Tensor& q_in, at::TensorList k,
                                at::TensorList v, const at::Tensor& g_in, const at::Tensor& out_in,
                                const at::Tensor& lse_in, const std::vector<int64_t>& rows,
                                double scale) {
  const at::Tensor q = rows_contiguous(q_in), g = rows_contiguous(g_in.to(q_in.scalar_type()));
  const at::Tensor out = rows_contiguous(out_in.to(q_in.scalar_type()));
  const at::Tensor lse = lse_in.to(at::kFloat).contiguous();
  const at::Tensor rows_dev = rows_on_device(rows, q);
  std::vector<at::Tensor> keep;
  cuda::MergeBwdParams p = bwd_params(q, k, v, g, out, lse, rows_dev, scale, keep);
  p.block = int(m - 1);
  // Gradients take their input's layout.
  BlockGrads r;
  r.dk = at::empty_like(k[size_t(m)]);
  r.dv = at::empty_like(v[size_t(m)]);
  TORCH_CHECK(r.dk.stride(-1) == 1 && r.dv.stride(-1) == 1, "fused singleton merge: dk/dv layout");
  p.dk[m - 1] = r.dk.data_ptr();
  p.dk_st[m - 1] = strides_of(r.dk);
  p.dv[m - 1] = r.dv.data_ptr();
  p.dv_st[m - 1] = strides_of(r.dv);
  check(cuda::launch_merge_bwd(p, current_stream(q)), "ttt_singleton_merge_bwd (block)");
  return r;
}

at::Tensor backward_step_fused(const at::Tensor& q_in, at::TensorList k, at::TensorList v,
                               const at::Tensor& g_in, const at::Tensor& out_in,
                               const at::Tensor& lse_in, const std::vector<int64_t>& rows,
                               double scale, const at::Tensor& dq0_in,
                               const BlockGradBuffers& blocks) {
  const int64_t t = int64_t(k.size()) - 1;
  TORCH_CHECK(int64_t(blocks.dk.size()) == t && int64_t(blocks.dv.size()) == t &&
                  int64_t(blocks.accumulate.size()) == t,
              "merge_backward_step_fused: need ", t, " block buffers");
  const at::Tensor q = rows_contiguous(q_in), g = rows_contiguous(g_in.to(q_in.scalar_type()));
  const at::Tensor out = rows_contiguous(out_in.to(q_in.scalar_type()));
  const at::Tensor lse = lse_in.to(at::kFloat).contiguous();
  const at::Tensor dq = rows_contiguous(dq0_in.to(q_in.scalar_type()));
  if (t == 0) return dq;
  const at::Tensor rows_dev = rows_on_device(rows, q);
  std::vector<at::Tensor> keep;
  cuda::MergeBwdParams p = bwd_params(q, k, v, g, out, lse, rows_dev, scale, keep);
  p.dq0 = dq.data_ptr();
  p.dq0_st = strides_of(dq);
  p.dq = dq.data_ptr();
  p.dq_st = p.dq0_st;
  auto check_buffer = [&](const at::Tensor& x, const at::Tensor& like, const char* what, int64_t m) {
    TORCH_CHECK(x.sizes() == like.sizes() && x.scalar_type() == q.scalar_type() &&
                    x.device() == q.device() && x.stride(-1) == 1,
                "merge_backward_step_fused: ", what, " buffer of block ", m, " has shape ",
                x.sizes(), ", dtype ", x.scalar_type(), ", last stride ", x.stride(-1),
                "; expected ", like.sizes(), ", ", q.scalar_type(), ", 1");
  };
  for (int64_t m = 1; m <= t; ++m) {
    const at::Tensor& dk = blocks.dk[size_t(m - 1)];
    const at::Tensor& dv = blocks.dv[size_t(m - 1)];
    if (dk.defined()) {
      check_buffer(dk, k[size_t(m)], "dk", m);
      p.dk[m - 1] = dk.data_ptr();
      p.dk_st[m - 1] = strides_of(dk);
    }
    if (dv.defined()) {
      check_buffer(dv, v[size_t(m)], "dv", m);
      p.dv[m - 1] = dv.data_ptr();
      p.dv_st[m - 1] = strides_of(dv);
    }
    p.accumulate[m - 1] = blocks.accumulate[size_t(m - 1)];
  }
  check(cuda::launch_merge_bwd(p, current_stream(q)), "ttt_singleton_merge_bwd (step)");
  return dq;
}

#endif  // ATTN_WITH_CUDA

void check_fused(MergeImpl impl, const MergeDefects& defects) {
  if (impl != MergeImpl::fused_cuda) return;
  TORCH_CHECK(!defects.any(), "fused singleton merge: defects exist in the composed merge only");
#if !ATTN_WITH_CUDA
  TORCH_CHECK(false, "fused singleton merge: built without ATTN_WITH_CUDA");
#endif
}

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
                           const MergeDefects& defects, bool out_in_place) {
  check_fused(impl, defects);
#if ATTN_WITH_CUDA
  if (impl == MergeImpl::fused_cuda)
    return forward_fused(q, k, v, out0, lse0, rows, scale,
                         out_in_place && out0.scalar_type() == q.scalar_type() && out0.stride(-1) == 1);
#endif
  (void)out_in_place;
  return forward_composed(q, k, v, out0, lse0, rows, scale, defects);
}

at::Tensor merge_backward_dq(MergeImpl impl, const at::Tensor& q, at::TensorList k,
                             at::TensorList v, const at::Tensor& g, const at::Tensor& out,
                             const at::Tensor& lse, const std::vector<int64_t>& rows, double scale,
                             const at::Tensor& dq0, const MergeDefects& defects) {
  check_fused(impl, defects);
#if ATTN_WITH_CUDA
  if (impl == MergeImpl::fused_cuda)
    return backward_dq_fused(q, k, v, g, out, lse, rows, scale, dq0);
#endif
  return backward_dq_composed(q, k, v, g, out, lse, rows, scale, dq0, defects);
}

at::Tensor merge_backward_step_fused(const at::Tensor& q, at::TensorList k, at::TensorList v,
                                     const at::Tensor& g, const at::Tensor& out,
                                     const at::Tensor& lse, const std::vector<int64_t>& rows,
                                     double scale, const at::Tensor& dq0,
                                     const BlockGradBuffers& blocks) {
  check_fused(MergeImpl::fused_cuda, {});
#if ATTN_WITH_CUDA
  return backward_step_fused(q, k, v, g, out, lse, rows, scale, dq0, blocks);
#else
  (void)q, (void)k, (void)v, (void)g, (void)out, (void)lse, (void)rows, (void)scale, (void)dq0,
      (void)blocks;
  return at::Tensor();
#endif
}

BlockGrads merge_backward_block(MergeImpl impl, int64_t m, const at::Tensor& q, at::TensorList k,
                                at::TensorList v, const at::Tensor& g, const at::Tensor& out,
                                const at::Tensor& lse, const std::vector<int64_t>& rows,
                                double scale, const MergeDefects& defects) {
  TORCH_CHECK(m >= 1 && m < int64_t(k.size()), "merge_backward_block: block ", m, " is not in 1..",
              int64_t(k.size()) - 1);
  check_fused(impl, defects);
#if ATTN_WITH_CUDA
  if (impl == MergeImpl::fused_cuda)
    return backward_block_fused(m, q, k, v, g, out, lse, rows, scale);
#endif
  return backward_block_composed(m, q, k, v, g, out, lse, rows, scale, defects);
}

}  // namespace attn::kern::detail

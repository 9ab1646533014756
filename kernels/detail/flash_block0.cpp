#include "kernels/detail/flash_block0.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#if ATTN_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "kernels/detail/ttt_rows.hpp"

namespace attn::kern::detail {
namespace {

int64_t total_rows(const std::vector<int64_t>& rows) {
  return std::accumulate(rows.begin(), rows.end(), int64_t(0));
}

/// [B, N, L, D] -> [sum n_b, N, D]: the first n_b tokens of each batch element, packed.
at::Tensor pack_rows(const at::Tensor& x, const std::vector<int64_t>& rows) {
  std::vector<at::Tensor> parts;
  for (size_t b = 0; b < rows.size(); ++b)
    if (rows[b] > 0) parts.push_back(x.select(0, int64_t(b)).narrow(1, 0, rows[b]).transpose(0, 1));
  return at::cat(parts, 0).contiguous();
}

/// Inverse of pack_rows into a tensor laid out like `like` ([B, N, L, D]); rows past n_b are zero.
at::Tensor unpack_rows(const at::Tensor& p, const std::vector<int64_t>& rows, const at::Tensor& like) {
  const int64_t B = int64_t(rows.size());
  at::Tensor x = at::zeros_like(like, p.options());
  int64_t off = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = rows[size_t(b)];
    if (n > 0) x.select(0, b).narrow(1, 0, n).copy_(p.narrow(0, off, n).transpose(0, 1));
    off += n;
  }
  return x;
}

/// Where row i of (b, h) sits in the kernel's LSE tensor: FA2 varlen returns [H, total_q]
/// (unpadded) in recent versions and [B', H, max_q] in older ones (B' = the sequences passed,
/// i.e. the batch elements with n_b > 0); dense returns [B, H, >= L].
/// `to_raw`: copy `lse` [B, H, L] into those positions of `raw`; otherwise read them into `lse`.
void map_lse(at::Tensor& raw, at::Tensor& lse, const std::vector<int64_t>& rows, bool to_raw) {
  const int64_t B = lse.size(0);
  const bool unpadded = raw.dim() == 2;
  int64_t off = 0, seq = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = rows[size_t(b)];
    if (n == 0) continue;
    at::Tensor kernel_side = unpadded ? raw.narrow(1, off, n) : raw.select(0, seq).narrow(1, 0, n);
    at::Tensor ours = lse.select(0, b).narrow(1, 0, n);
    if (to_raw) kernel_side.copy_(ours);
    else ours.copy_(kernel_side);
    off += n;
    ++seq;
  }
}

std::string check_lse_layout(const at::Tensor& raw, int64_t B, int64_t H, int64_t L,
                             const std::vector<int64_t>& rows, bool varlen) {
  const int64_t total = total_rows(rows);
  const int64_t max_q = *std::max_element(rows.begin(), rows.end());
  const int64_t seqs = int64_t(std::count_if(rows.begin(), rows.end(), [](int64_t n) { return n > 0; }));
  if (varlen && raw.dim() == 2 && raw.size(0) == H && raw.size(1) == total) return "[H, total_q]";
  if (varlen && raw.dim() == 3 && raw.size(0) == seqs && raw.size(1) == H && raw.size(2) >= max_q)
    return "[B, H, max_q]";
  if (!varlen && raw.dim() == 3 && raw.size(0) == B && raw.size(1) == H && raw.size(2) >= L)
    return "[B, H, L]";
  TORCH_CHECK(false, "flash kernel returned its LSE with shape ", raw.sizes(), "; expected ",
              varlen ? "[H, total_q] = [" + std::to_string(H) + ", " + std::to_string(total) +
                           "] or [sequences, H, max_q] = [" + std::to_string(seqs) + ", " +
                           std::to_string(H) + ", " + std::to_string(max_q) + "]"
                     : "[B, H, L] = [" + std::to_string(B) + ", " + std::to_string(H) + ", " +
                           std::to_string(L) + "]");
}

// ---- composed (explicit causal scores in the accumulation type) ----

at::Tensor causal_scores(const at::Tensor& q, const at::Tensor& k0, double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), Hkv = k0.size(1);
  const at::ScalarType acc = acc_type(q.scalar_type());
  // Heads of a group share their kv head: [B, Hkv, G L, D] x [B, Hkv, D, L].
  at::Tensor s = at::matmul(q.to(acc).reshape({B, Hkv, (H / Hkv) * L, D}),
                            k0.to(acc).transpose(-1, -2))
                     .view({B, H, L, L});
  s.mul_(scale);
  const at::Tensor above = at::ones({L, L}, q.options().dtype(at::kBool)).triu(1);
  return s.masked_fill_(above, -std::numeric_limits<double>::infinity());
}

Block0Forward composed_forward(const at::Tensor& q, const at::Tensor& k0, const at::Tensor& v0,
                               double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), Hkv = k0.size(1);
  Block0Forward f;
  f.kernel = Block0Kernel::composed;
  const at::Tensor s = causal_scores(q, k0, scale);
  f.lse0 = at::logsumexp(s, -1);
  const at::Tensor p = at::exp(s - f.lse0.unsqueeze(-1));
  f.out0 = at::matmul(p.view({B, Hkv, (H / Hkv) * L, L}), v0.to(s.scalar_type())).view({B, H, L, D});
  f.lse_layout = "[B, H, L]";
  return f;
}

Block0Grads composed_backward(const at::Tensor& q, const at::Tensor& k0, const at::Tensor& v0,
                              const at::Tensor& g, const at::Tensor& out, const at::Tensor& lse,
                              double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3), Hkv = k0.size(1);
  const int64_t GL = (H / Hkv) * L;
  const at::Tensor s = causal_scores(q, k0, scale);
  const at::ScalarType acc = s.scalar_type();
  const at::Tensor p = at::exp(s - lse.to(acc).unsqueeze(-1));  // masked entries: exp(-inf) = 0
  const at::Tensor ga = g.to(acc), ka = k0.to(acc), va = v0.to(acc);
  const at::Tensor delta = (ga * out.to(acc)).sum(-1, true);
  const at::Tensor dp = at::matmul(ga.reshape({B, Hkv, GL, D}), va.transpose(-1, -2)).view({B, H, L, L});
  const at::Tensor ds = (p * (dp - delta)).view({B, Hkv, GL, L});
  Block0Grads r;
  r.dq = (at::matmul(ds, ka) * scale).view({B, H, L, D});
  // Contracting over the G L rows of a group sums the GQA heads.
  r.dk = at::matmul(ds.transpose(-1, -2), q.to(acc).reshape({B, Hkv, GL, D})) * scale;
  r.dv = at::matmul(p.view({B, Hkv, GL, L}).transpose(-1, -2), ga.reshape({B, Hkv, GL, D}));
  return r;
}

// ---- PyTorch's CPU flash kernel ----

Block0Forward cpu_flash_forward(const at::Tensor& q, const at::Tensor& k0, const at::Tensor& v0,
                                double scale) {
  Block0Forward f;
  f.kernel = Block0Kernel::cpu_flash;
  // Causal over the full L: exact on valid rows (see the header). GQA is native in the forward:
  // head h reads kv head h / (H / Hkv); the backward sums dk, dv over the group in fp32.
  std::tie(f.out0, f.lse0) = at::_scaled_dot_product_flash_attention_for_cpu(
      q, k0, v0, /*dropout_p=*/0.0, /*is_causal=*/true, /*attn_mask=*/{}, scale);
  f.lse0 = f.lse0.to(acc_type(q.scalar_type()));
  f.lse_layout = "[B, H, L]";
  return f;
}

/// PyTorch's CPU flash backward for q [B, H, L, D], k, v [B, Hkv, L, D]. With GQA (Hkv < H)
/// the kernel is given k and v repeated to H heads and the group's dk, dv are summed in fp32
/// (fp64 for fp64 inputs), then rounded once: its native GQA reduction is up to 2.4x less
/// accurate (torch 2.11, H 32 / Hkv 4, L 128, bf16, against an fp64 reference: dk 1.4e-2 vs
/// 5.9e-3 of max|dk|, dv 9.8e-3 vs 5.0e-3).
std::tuple<at::Tensor, at::Tensor, at::Tensor> cpu_flash_kernel_backward(
    const at::Tensor& g, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
    const at::Tensor& out, const at::Tensor& lse, double scale) {
  const int64_t H = q.size(1), Hkv = k.size(1);
  if (Hkv == H)
    return at::_scaled_dot_product_flash_attention_for_cpu_backward(
        g, q, k, v, out, lse, /*dropout_p=*/0.0, /*is_causal=*/true, /*attn_mask=*/{}, scale);
  const int64_t G = H / Hkv;
  auto [dq, dk_h, dv_h] = at::_scaled_dot_product_flash_attention_for_cpu_backward(
      g, q, k.repeat_interleave(G, 1), v.repeat_interleave(G, 1), out, lse, 0.0, true, {}, scale);
  auto group_sum = [&](const at::Tensor& x) {
    const auto s = x.sizes();
    return x.to(acc_type(x.scalar_type())).view({s[0], Hkv, G, s[2], s[3]}).sum(2).to(k.scalar_type());
  };
  return {dq, group_sum(dk_h), group_sum(dv_h)};
}

Block0Grads cpu_flash_backward(const at::Tensor& q, const at::Tensor& k0, const at::Tensor& v0,
                               const at::Tensor& g, const at::Tensor& out, const at::Tensor& lse,
                               double scale) {
  Block0Grads r;
  std::tie(r.dq, r.dk, r.dv) = cpu_flash_kernel_backward(
      g.contiguous(), q, k0, v0, out.to(q.scalar_type()).contiguous(),
      lse.to(acc_type(q.scalar_type())).contiguous(), scale);
  return r;
}

// ---- PyTorch's CUDA flash kernels (FA2), layout [B, L, H, D] / packed [total, H, D] ----

Block0Forward cuda_dense_forward(const at::Tensor& q, const at::Tensor& k0, const at::Tensor& v0,
                                 const std::vector<int64_t>& rows, double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2);
  Block0Forward f;
  f.kernel = Block0Kernel::cuda_flash_dense;
  f.rows = rows;
  at::Tensor out, dbg;
  std::tie(out, f.lse_raw, f.rng_state, f.unused, dbg) = at::_flash_attention_forward(
      q.transpose(1, 2), k0.transpose(1, 2), v0.transpose(1, 2), std::nullopt, std::nullopt, L, L,
      /*dropout_p=*/0.0, /*is_causal=*/true, /*return_debug_mask=*/false,
      std::optional<double>(scale));
  f.lse_layout = check_lse_layout(f.lse_raw, B, H, L, rows, /*varlen=*/false);
  f.out0 = out.transpose(1, 2);
  f.lse0 = f.lse_raw.narrow(2, 0, L);
  f.max_q = L;
  return f;
}

Block0Grads cuda_dense_backward(const Block0Forward& f, const at::Tensor& q, const at::Tensor& k0,
                                const at::Tensor& v0, const at::Tensor& g, const at::Tensor& out,
                                const at::Tensor& lse, double scale) {
  const int64_t L = q.size(2);
  at::Tensor lse_k = f.lse_raw.clone();
  lse_k.narrow(2, 0, L).copy_(lse);
  Block0Grads r;
  std::tie(r.dq, r.dk, r.dv) = at::_flash_attention_backward(
      g.transpose(1, 2), q.transpose(1, 2), k0.transpose(1, 2), v0.transpose(1, 2),
      out.to(q.scalar_type()).transpose(1, 2), lse_k.contiguous(), at::Tensor(), at::Tensor(), L,
      L, /*dropout_p=*/0.0, /*is_causal=*/true, f.rng_state, f.unused, std::optional<double>(scale),
      std::nullopt, std::nullopt);
  r.dq = r.dq.transpose(1, 2);
  r.dk = r.dk.transpose(1, 2);
  r.dv = r.dv.transpose(1, 2);
  return r;
}

// ---- varlen: only the valid tokens of each sequence, packed [total, heads, D] ----

/// The packed valid tokens of q, k0, v0 ([total, heads, D] each). Packed anew for the backward
/// rather than kept from the forward: three tensors per step that would otherwise live until
/// the backward.
struct Packed {
  at::Tensor q, k, v;
  Packed(const at::Tensor& q0, const at::Tensor& k0, const at::Tensor& v0, const std::vector<int64_t>& rows)
      : q(pack_rows(q0, rows)), k(pack_rows(k0, rows)), v(pack_rows(v0, rows)) {}
};

/// The CPU flash kernel once per sequence, in FA2's varlen conventions: returns the packed
/// output and the LSE as [H, total_q].
std::pair<at::Tensor, at::Tensor> cpu_varlen_kernel_forward(const Block0Forward& f, const Packed& pk,
                                                            double scale) {
  const int64_t H = pk.q.size(1), total = pk.q.size(0);
  at::Tensor out_p = at::empty_like(pk.q);
  at::Tensor lse = at::empty({H, total}, pk.q.options().dtype(acc_type(pk.q.scalar_type())));
  int64_t off = 0;
  for (int64_t n : f.rows) {
    if (n == 0) continue;
    auto seq = [&](const at::Tensor& x) { return x.narrow(0, off, n).transpose(0, 1).unsqueeze(0); };
    auto [o, l] = at::_scaled_dot_product_flash_attention_for_cpu(
        seq(pk.q), seq(pk.k), seq(pk.v), 0.0, /*is_causal=*/true, /*attn_mask=*/{}, scale);
    out_p.narrow(0, off, n).copy_(o.squeeze(0).transpose(0, 1));
    lse.narrow(1, off, n).copy_(l.squeeze(0));
    off += n;
  }
  return {out_p, lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> cpu_varlen_kernel_backward(
    const Block0Forward& f, const Packed& pk, const at::Tensor& g_p, const at::Tensor& out_p,
    const at::Tensor& lse_k, double scale) {
  at::Tensor dq = at::empty_like(pk.q), dk = at::empty_like(pk.k), dv = at::empty_like(pk.v);
  int64_t off = 0;
  for (int64_t n : f.rows) {
    if (n == 0) continue;
    auto seq = [&](const at::Tensor& x) { return x.narrow(0, off, n).transpose(0, 1).unsqueeze(0); };
    auto [a, b, c] = cpu_flash_kernel_backward(
        seq(g_p).contiguous(), seq(pk.q), seq(pk.k), seq(pk.v), seq(out_p).contiguous(),
        lse_k.narrow(1, off, n).unsqueeze(0).contiguous(), scale);
    dq.narrow(0, off, n).copy_(a.squeeze(0).transpose(0, 1));
    dk.narrow(0, off, n).copy_(b.squeeze(0).transpose(0, 1));
    dv.narrow(0, off, n).copy_(c.squeeze(0).transpose(0, 1));
    off += n;
  }
  return {dq, dk, dv};
}

Block0Forward varlen_forward(Block0Kernel kernel, const at::Tensor& q, const at::Tensor& k0,
                             const at::Tensor& v0, const std::vector<int64_t>& rows, double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2);
  Block0Forward f;
  f.kernel = kernel;
  f.rows = rows;
  // Sequences with n_b = 0 are left out of the call altogether (cu_seqlens lists the others).
  std::vector<int32_t> cu{0};
  for (int64_t n : rows)
    if (n > 0) cu.push_back(cu.back() + int32_t(n));
  f.cu_seqlens = at::tensor(cu, at::TensorOptions().dtype(at::kInt)).to(q.device());
  f.max_q = *std::max_element(rows.begin(), rows.end());
  const Packed pk(q, k0, v0, rows);
  at::Tensor out_p;
  if (kernel == Block0Kernel::cuda_flash_varlen) {
    at::Tensor dbg;
    std::tie(out_p, f.lse_raw, f.rng_state, f.unused, dbg) = at::_flash_attention_forward(
        pk.q, pk.k, pk.v, f.cu_seqlens, f.cu_seqlens, f.max_q, f.max_q, /*dropout_p=*/0.0,
        /*is_causal=*/true, /*return_debug_mask=*/false, std::optional<double>(scale));
  } else {
    std::tie(out_p, f.lse_raw) = cpu_varlen_kernel_forward(f, pk, scale);
  }
  f.lse_layout = check_lse_layout(f.lse_raw, B, H, L, rows, /*varlen=*/true);
  f.out0 = unpack_rows(out_p, rows, q);  // q's layout, as the dense kernel's output
  f.lse0 = at::zeros({B, H, L}, f.lse_raw.options());
  map_lse(f.lse_raw, f.lse0, rows, /*to_raw=*/false);
  return f;
}

Block0Grads varlen_backward(const Block0Forward& f, const at::Tensor& q, const at::Tensor& k0,
                            const at::Tensor& v0, const at::Tensor& g, const at::Tensor& out,
                            const at::Tensor& lse, double scale) {
  // The kernel's own LSE layout; positions past n_b (padded layout) keep the kernel's values.
  at::Tensor lse_k = f.lse_raw.clone();
  at::Tensor lse_ours = lse.to(f.lse_raw.scalar_type());
  map_lse(lse_k, lse_ours, f.rows, /*to_raw=*/true);
  const Packed pk(q, k0, v0, f.rows);
  const at::Tensor g_p = pack_rows(g, f.rows), out_p = pack_rows(out.to(q.scalar_type()), f.rows);
  at::Tensor dq_p, dk_p, dv_p;
  if (f.kernel == Block0Kernel::cuda_flash_varlen) {
    std::tie(dq_p, dk_p, dv_p) = at::_flash_attention_backward(
        g_p, pk.q, pk.k, pk.v, out_p, lse_k.contiguous(), f.cu_seqlens, f.cu_seqlens, f.max_q,
        f.max_q, /*dropout_p=*/0.0, /*is_causal=*/true, f.rng_state, f.unused,
        std::optional<double>(scale), std::nullopt, std::nullopt);
  } else {
    std::tie(dq_p, dk_p, dv_p) = cpu_varlen_kernel_backward(f, pk, g_p, out_p, lse_k, scale);
  }
  Block0Grads r;
  r.dq = unpack_rows(dq_p, f.rows, q);
  r.dk = unpack_rows(dk_p, f.rows, k0);
  r.dv = unpack_rows(dv_p, f.rows, v0);
  return r;
}


// ---- cuDNN (dense, causal over the full L) ----

/// Last dimension contiguous, as cuDNN needs (the other strides are free), or a copy.
at::Tensor last_dim_contiguous(const at::Tensor& x) { return x.stride(-1) == 1 ? x : x.contiguous(); }

/// `x` with exactly these strides (every dimension compared, size-1 ones too): `x` itself when
/// it has them, otherwise a copy laid out so.
at::Tensor with_strides(const at::Tensor& x, const std::vector<int64_t>& strides) {
  if (x.strides().vec() == strides) return x;
  at::Tensor y = at::empty_strided(x.sizes(), strides, x.options());
  y.copy_(x);
  return y;
}

Block0Forward cudnn_forward(const at::Tensor& q_in, const at::Tensor& k0_in, const at::Tensor& v0_in,
                            const std::vector<int64_t>& rows, double scale) {
  const int64_t B = q_in.size(0), H = q_in.size(1), L = q_in.size(2);
  const at::Tensor q = last_dim_contiguous(q_in), k0 = last_dim_contiguous(k0_in),
                   v0 = last_dim_contiguous(v0_in);
  Block0Forward f;
  f.kernel = Block0Kernel::cuda_cudnn_dense;
  f.rows = rows;
  // Causal over the full L: exact on valid rows (see the header). GQA is native (k0, v0 with
  // Hkv heads; the backward sums dk, dv over each group). The output takes q's layout.
  auto res = at::_scaled_dot_product_cudnn_attention(
      q, k0, v0, /*attn_bias=*/std::nullopt, /*compute_log_sumexp=*/true, /*dropout_p=*/0.0,
      /*is_causal=*/true, /*return_debug_mask=*/false, std::optional<double>(scale));
  f.out0 = std::get<0>(res);
  f.lse_raw = std::get<1>(res);
  f.rng_state = std::get<6>(res);  // philox seed and offset (unused with dropout 0)
  f.unused = std::get<7>(res);
  const at::Tensor& raw = f.lse_raw;
  if (raw.dim() == 4 && raw.size(0) == B && raw.size(1) == H && raw.size(2) == L && raw.size(3) == 1) {
    f.lse_layout = "[B, H, L, 1]";
    f.lse0 = raw.select(3, 0);
  } else if (raw.dim() == 3 && raw.size(0) == B && raw.size(1) == H && raw.size(2) == L) {
    f.lse_layout = "[B, H, L]";
    f.lse0 = raw;
  } else {
    TORCH_CHECK(false, "cuDNN attention returned its LSE with shape ", raw.sizes(),
                "; expected [B, H, L, 1] = [", B, ", ", H, ", ", L, ", 1]");
  }
  TORCH_CHECK(raw.scalar_type() == at::kFloat, "cuDNN attention returned its LSE in ",
              raw.scalar_type(), "; expected fp32");
  f.max_q = L;
  return f;
}

Block0Grads cudnn_backward_fixed_layout(const Block0Forward& f, const at::Tensor& q_in,
                                        const at::Tensor& k0_in, const at::Tensor& v0_in,
                                        const at::Tensor& g, const at::Tensor& out,
                                        const at::Tensor& lse4, double scale) {
  const int64_t L = q_in.size(2);
  const at::Tensor q = last_dim_contiguous(q_in), k0 = last_dim_contiguous(k0_in),
                   v0 = last_dim_contiguous(v0_in);
  // The forward's philox tensors (dropout 0: never read, but the op takes tensors).
  const at::Tensor seed = f.rng_state.defined() ? f.rng_state : at::zeros({}, q.options().dtype(at::kLong));
  const at::Tensor offset = f.unused.defined() ? f.unused : at::zeros({}, q.options().dtype(at::kLong));
  Block0Grads r;
  std::tie(r.dq, r.dk, r.dv) = at::_scaled_dot_product_cudnn_attention_backward(
      g, q, k0, v0, out, lse4, seed, offset, /*attn_bias=*/at::Tensor(), /*cum_seq_q=*/at::Tensor(),
      /*cum_seq_k=*/at::Tensor(), /*max_q=*/L, /*max_k=*/L, /*dropout_p=*/0.0, /*is_causal=*/true,
      std::optional<double>(scale));
  return r;
}

Block0Grads cudnn_backward(const Block0Forward& f, const at::Tensor& q, const at::Tensor& k0,
                           const at::Tensor& v0, const at::Tensor& g, const at::Tensor& out,
                           const at::Tensor& lse, double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), D = q.size(3);
  // THE LAYOUT TRAP (see cudnn_backward_out_strides in the header): PyTorch's cuDNN backward
  // caches its graph by q, k, v alone, yet the graph holds the strides of out, grad_out and
  // the LSE it was built with. Passing them in whatever layout the caller has would make a
  // later call with another layout (same q, k, v) run the cached graph over misread memory:
  // wrong gradients, no error. So they always go in in one fixed layout, copied only when
  // they are not in it already.
  const std::vector<int64_t> out_strides = cudnn_backward_out_strides(B, H, L, D);
  const at::Tensor out_c = with_strides(out.to(q.scalar_type()), out_strides);
  const at::Tensor g_c = with_strides(g.to(q.scalar_type()), out_strides);
  const at::Tensor lse_c =
      with_strides(lse.to(at::kFloat).unsqueeze(-1), cudnn_backward_lse_strides(B, H, L));
  return cudnn_backward_fixed_layout(f, q, k0, v0, g_c, out_c, lse_c, scale);
}

}  // namespace

std::vector<int64_t> cudnn_backward_out_strides(int64_t B, int64_t H, int64_t L, int64_t D) {
  (void)B;
  return {L * H * D, D, H * D, 1};
}

std::vector<int64_t> cudnn_backward_lse_strides(int64_t B, int64_t H, int64_t L) {
  (void)B;
  return {H * L, L, 1, 1};
}

Block0Grads cudnn_block0_backward_as_given(const Block0Forward& f, const at::Tensor& q,
                                           const at::Tensor& k0, const at::Tensor& v0,
                                           const at::Tensor& g, const at::Tensor& out,
                                           const at::Tensor& lse4, double scale) {
  TORCH_CHECK(f.kernel == Block0Kernel::cuda_cudnn_dense,
              "cudnn_block0_backward_as_given: the forward ran ", to_string(f.kernel));
  return cudnn_backward_fixed_layout(f, q, k0, v0, g, out, lse4, scale);
}

bool cudnn_block0_available(const at::Device& device, at::ScalarType dtype, int64_t B, int64_t H,
                            int64_t L, int64_t D, std::string* why) {
  auto no = [why](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
#if ATTN_WITH_CUDA
  try {
    if (!device.is_cuda()) return no("tensors are not on a CUDA device");
    if (dtype != at::kBFloat16 && dtype != at::kHalf)
      return no(std::string("dtype ") + c10::toString(dtype) + " (cuDNN attention takes bf16 and f16)");
    const auto& hooks = at::detail::getCUDAHooks();
    if (!hooks.hasCUDA() || !at::cuda::is_available()) return no("no CUDA device in this process");
    if (!hooks.hasCuDNN()) return no("this PyTorch has no cuDNN");
    const long version = hooks.versionRuntimeCuDNN();
    if (version < 90000) return no("cuDNN " + std::to_string(version) + " at run time is older than 9.0");
    const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
    const cudaDeviceProp* props = at::cuda::getDeviceProperties(index);
    const int cc = props->major * 10 + props->minor;
    if (cc < 80 || cc > 121)
      return no("compute capability " + std::to_string(props->major) + "." +
                std::to_string(props->minor) + " is outside 8.0 .. 12.1");
    const int64_t max_d = (props->major == 9 && props->minor == 0 && version >= 91000) ? 256 : 128;
    if (D % 8 != 0 || D > max_d)
      return no("head_dim " + std::to_string(D) + " (cuDNN attention: a multiple of 8 up to " +
                std::to_string(max_d) + " here)");
    if (L < 2) return no("sequence length below 2");
    if (B > 65535 || H > 65535) return no("batch or heads above 65535");
    const auto& ctx = at::globalContext();
    if (!ctx.userEnabledCuDNN()) return no("cuDNN is disabled (torch.backends.cudnn.enabled = False)");
    if (!ctx.userEnabledCuDNNSDP())
      return no("cuDNN attention is disabled (torch.backends.cuda.enable_cudnn_sdp(False))");
    if (ctx.deterministicAlgorithms() && !ctx.deterministicAlgorithmsWarnOnly())
      return no("deterministic algorithms are requested; the cuDNN attention backward is not deterministic");
    return true;
  } catch (const std::exception& e) {
    return no(std::string("cannot query the device: ") + e.what());
  }
#else
  (void)device, (void)dtype, (void)B, (void)H, (void)L, (void)D;
  return no("built without ATTN_WITH_CUDA");
#endif
}

bool cudnn_block0_available(const at::Tensor& q, std::string* why) {
  return cudnn_block0_available(q.device(), q.scalar_type(), q.size(0), q.size(1), q.size(2),
                                q.size(3), why);
}

std::string to_string(Block0Kernel k) {
  switch (k) {
    case Block0Kernel::cpu_flash: return "cpu-flash";
    case Block0Kernel::cpu_flash_varlen: return "cpu-flash-varlen";
    case Block0Kernel::composed: return "composed";
    case Block0Kernel::cuda_flash_dense: return "cuda-flash-dense";
    case Block0Kernel::cuda_flash_varlen: return "cuda-flash-varlen";
    case Block0Kernel::cuda_cudnn_dense: return "cuda-cudnn-dense";
  }
  return "?";
}

Block0Kernel choose_block0(const at::Tensor& q, const std::vector<int64_t>& valid_len,
                           const std::vector<int64_t>& rows, Block0Preference preference) {
  if (preference == Block0Preference::composed) return Block0Kernel::composed;
  const int64_t L = q.size(2);
  const int64_t max_q = rows.empty() ? 0 : *std::max_element(rows.begin(), rows.end());
  const bool varlen = max_q >= 2 && (preference == Block0Preference::varlen ||
                                     std::any_of(valid_len.begin(), valid_len.end(),
                                                 [L](int64_t n) { return n < L; }));
  if (!q.is_cuda())
    return preference == Block0Preference::varlen && max_q >= 2 ? Block0Kernel::cpu_flash_varlen
                                                                 : Block0Kernel::cpu_flash;
  const at::ScalarType t = q.scalar_type();
  if (L < 2 || (t != at::kBFloat16 && t != at::kHalf)) return Block0Kernel::composed;
  if (preference == Block0Preference::cudnn || preference == Block0Preference::automatic) {
    std::string why;
    if (cudnn_block0_available(q, &why)) return Block0Kernel::cuda_cudnn_dense;
    TORCH_CHECK(preference != Block0Preference::cudnn, "flash: the cuDNN block-0 kernel is not available: ", why);
  }
  return varlen ? Block0Kernel::cuda_flash_varlen : Block0Kernel::cuda_flash_dense;
}

Block0Forward block0_forward(Block0Kernel kernel, const at::Tensor& q, const at::Tensor& k0,
                             const at::Tensor& v0, const std::vector<int64_t>& rows, double scale) {
  Block0Forward f;
  switch (kernel) {
    case Block0Kernel::cpu_flash: f = cpu_flash_forward(q, k0, v0, scale); break;
    case Block0Kernel::composed: f = composed_forward(q, k0, v0, scale); break;
    case Block0Kernel::cuda_flash_dense: f = cuda_dense_forward(q, k0, v0, rows, scale); break;
    case Block0Kernel::cuda_cudnn_dense: f = cudnn_forward(q, k0, v0, rows, scale); break;
    case Block0Kernel::cpu_flash_varlen:
    case Block0Kernel::cuda_flash_varlen: f = varlen_forward(kernel, q, k0, v0, rows, scale); break;
  }
  f.rows = rows;
  return f;
}

Block0Grads block0_backward(const Block0Forward& f, const at::Tensor& q, const at::Tensor& k0,
                            const at::Tensor& v0, const at::Tensor& g, const at::Tensor& out,
                            const at::Tensor& lse, double scale) {
  switch (f.kernel) {
    case Block0Kernel::cpu_flash: return cpu_flash_backward(q, k0, v0, g, out, lse, scale);
    case Block0Kernel::composed: return composed_backward(q, k0, v0, g, out, lse, scale);
    case Block0Kernel::cuda_flash_dense: return cuda_dense_backward(f, q, k0, v0, g, out, lse, scale);
    case Block0Kernel::cuda_cudnn_dense: return cudnn_backward(f, q, k0, v0, g, out, lse, scale);
    case Block0Kernel::cpu_flash_varlen:
    case Block0Kernel::cuda_flash_varlen: return varlen_backward(f, q, k0, v0, g, out, lse, scale);
  }
  TORCH_CHECK(false, "block0_backward: unknown kernel");
}

}  // namespace attn::kern::detail

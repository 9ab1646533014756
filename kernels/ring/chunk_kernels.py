"""Block-0 attention of one query chunk against one key/value chunk, with its log-sum-exp, and
the matching backward: the unit the ring passes chunks around for.

Contract (every kernel):
    forward(q, k, v, causal, scale) -> (out, lse)
        q [B, H, C, D]; k, v [B, Hkv, C, D] (H a multiple of Hkv; head h reads kv head
        h // (H / Hkv)); causal: the diagonal chunk (key j visible to query i iff j <= i, both
        chunk-local); otherwise every key is visible. out [B, H, C, D] in the accumulation type
        or the input dtype (the kernel's own), lse [B, H, C] in the accumulation type.
    backward(g, q, k, v, out, lse, causal, scale) -> (dq, dk, dv)
        the gradients of this chunk pair's share of a softmax whose rows are normalised by
        `lse` and whose output is `out` (for the true gradient: the merged out and merged lse
        of the whole row). p_ij = exp(s q_i.k_j - lse_i), delta_i = g_i . out_i,
        ds = p (g v^T - delta); dq = s ds k, dk = s ds^T q (summed over the GQA group),
        dv = p^T g. A row with lse = +inf contributes exactly nothing. Returned in the
        accumulation type (fp32, fp64 for fp64 inputs) so that the ring sums them unrounded.

Kernels:
    composed   explicit scores in the accumulation type (fp32 from bf16): any device, any dtype
    flash      PyTorch's flash kernels: on the CPU _scaled_dot_product_flash_attention_for_cpu
               (GQA dk, dv summed over the group in fp32, as the C++ flash path does), on CUDA
               FA2 (_flash_attention_forward / _backward on [B, C, H, D] views; bf16 / f16)
"""
import torch


def acc_dtype(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


def _grouped(x, hkv):
    """[B, H, C, D] -> [B, Hkv, G C, D]: the rows of a GQA group stacked (h = kv G + g)."""
    B, H, C, D = x.shape
    return x.reshape(B, hkv, (H // hkv) * C, D)


class ComposedKernel:
    name = "composed"

    def _scores(self, q, k, causal, scale):
        B, H, C, D = q.shape
        hkv, ck = k.shape[1], k.shape[2]
        acc = acc_dtype(q.dtype)
        s = (_grouped(q.to(acc), hkv) @ k.to(acc).transpose(-1, -2)).view(B, H, C, ck) * scale
        if causal:
            above = torch.ones(C, ck, dtype=torch.bool, device=q.device).triu(1)
            s = s.masked_fill(above, float("-inf"))
        return s

    def forward(self, q, k, v, causal, scale):
        B, H, C, D = q.shape
        hkv = k.shape[1]
        s = self._scores(q, k, causal, scale)
        lse = torch.logsumexp(s, dim=-1)
        p = torch.exp(s - lse.unsqueeze(-1))
        out = (p.view(B, hkv, -1, k.shape[2]) @ v.to(s.dtype)).view(B, H, C, D)
        return out, lse

    def backward(self, g, q, k, v, out, lse, causal, scale):
        B, H, C, D = q.shape
        hkv, ck = k.shape[1], k.shape[2]
        s = self._scores(q, k, causal, scale)
        acc = s.dtype
        p = torch.exp(s - lse.to(acc).unsqueeze(-1))  # masked: exp(-inf) = 0; lse +inf: 0
        ga = g.to(acc)
        delta = (ga * out.to(acc)).sum(-1, keepdim=True)
        dp = (_grouped(ga, hkv) @ v.to(acc).transpose(-1, -2)).view(B, H, C, ck)
        ds = (p * (dp - delta)).view(B, hkv, -1, ck)
        dq = (ds @ k.to(acc)).view(B, H, C, D) * scale
        # Contracting over the G C rows of a group sums the GQA heads.
        dk = (ds.transpose(-1, -2) @ _grouped(q.to(acc), hkv)) * scale
        dv = p.view(B, hkv, -1, ck).transpose(-1, -2) @ _grouped(ga, hkv)
        return dq, dk, dv


class CpuFlashKernel:
    """ATen's CPU flash kernel. Forward: GQA native. Backward: k, v repeated to H heads and
    the group's dk, dv summed in the accumulation type (the kernel's own GQA reduction is
    less accurate, see kernels/detail/flash_block0.cpp)."""
    name = "cpu-flash"

    def forward(self, q, k, v, causal, scale):
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            q, k, v, 0.0, causal, attn_mask=None, scale=scale)
        return out, lse.to(acc_dtype(q.dtype))

    def backward(self, g, q, k, v, out, lse, causal, scale):
        B, H, C, D = q.shape
        hkv = k.shape[1]
        G = H // hkv
        acc = acc_dtype(q.dtype)
        kr = k if G == 1 else k.repeat_interleave(G, dim=1)
        vr = v if G == 1 else v.repeat_interleave(G, dim=1)
        dq, dk, dv = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(
            g.to(q.dtype).contiguous(), q.contiguous(), kr.contiguous(), vr.contiguous(),
            out.to(q.dtype).contiguous(), lse.to(acc).contiguous(), 0.0, causal,
            attn_mask=None, scale=scale)

        def group_sum(x):
            return x.to(acc).view(B, hkv, G, C, D).sum(2)
        return dq.to(acc), group_sum(dk), group_sum(dv)


class CudaFlashKernel:
    """FA2 through ATen on [B, C, H, D] views (native GQA in both directions). The kernel's
    LSE buffer may be longer than C; the backward is handed one of the forward's layout with
    the given lse in its first C positions. Not run in CI (no GPU there)."""
    name = "cuda-fa2"

    def __init__(self):
        self._lse_len = None
        self._rng = None

    def forward(self, q, k, v, causal, scale):
        C, ck = q.shape[2], k.shape[2]
        out, lse_raw, rng_state, unused, _ = torch.ops.aten._flash_attention_forward(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), None, None, C, ck, 0.0,
            causal, False, scale=scale)
        if lse_raw.dim() != 3 or lse_raw.shape[2] < C:
            raise RuntimeError(f"FA2 returned its LSE with shape {list(lse_raw.shape)}; expected "
                               f"[B, H, >= {C}]")
        self._lse_len = lse_raw.shape[2]
        self._rng = (rng_state, unused)
        return out.transpose(1, 2), lse_raw[:, :, :C].float()

    def backward(self, g, q, k, v, out, lse, causal, scale):
        B, H, C, D = q.shape
        ck = k.shape[2]
        if self._rng is None:  # a backward without a forward in this process: dropout is 0
            self._rng = (torch.zeros(2, dtype=torch.int64, device=q.device),
                         torch.zeros(0, dtype=torch.int64, device=q.device))
        lse_k = torch.zeros(B, H, self._lse_len or C, dtype=torch.float32, device=q.device)
        lse_k[:, :, :C] = lse
        dq, dk, dv = torch.ops.aten._flash_attention_backward(
            g.to(q.dtype).transpose(1, 2), q.transpose(1, 2), k.transpose(1, 2),
            v.transpose(1, 2), out.to(q.dtype).transpose(1, 2), lse_k, None, None, C, ck, 0.0,
            causal, self._rng[0], self._rng[1], scale=scale)
        return (dq.transpose(1, 2).float(), dk.transpose(1, 2).float(),
                dv.transpose(1, 2).float())


KERNELS = ("auto", "flash", "composed")


def make_kernel(name, device, dtype):
    """The chunk kernel `name` ("auto", "flash" or "composed") for tensors of `dtype` on
    `device`. auto: flash where PyTorch has a flash kernel for the device and dtype (the CPU:
    any float dtype; CUDA: bf16 and f16), else composed. Raises ValueError for flash where
    there is none."""
    if name not in KERNELS:
        raise ValueError(f"block-0 kernel: expected one of {', '.join(KERNELS)}, found {name!r}")
    if name == "composed":
        return ComposedKernel()
    device = torch.device(device)
    if device.type == "cpu":
        return CpuFlashKernel()
    if device.type == "cuda" and dtype in (torch.bfloat16, torch.float16):
        return CudaFlashKernel()
    if name == "flash":
        raise ValueError(f"block-0 kernel flash: no flash kernel for {str(dtype).replace('torch.', '')} "
                         f"on {device.type} (FA2 takes bf16 or f16); use composed")
    return ComposedKernel()

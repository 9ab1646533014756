"""Sequence-parallel TTT attention over a torch.distributed process group (docs/ring.md).

The sequence of length L is split into P contiguous chunks of C = L / P rows; rank r holds
query rows [r C, (r + 1) C), the same rows of block 0's keys and values, and the same rows of
every singleton block (k_m, v_m for m = 1..t: a row's singleton key sits at its own position,
so the singletons never leave their rank).

Forward, on rank r:
    block 0: the key/value chunk j = (r - s) mod P arrives at ring step s = 0..P-1 (each step
        passes the chunk on to rank r + 1). Chunks j > r are after the rank's rows and skipped
        (causal); j = r is the diagonal chunk (causal inside); j < r is seen whole. The
        partials (o_j, lse_j) are merged by their LSE: lse0 = logaddexp over j,
        out0 = sum_j exp(lse_j - lse0) o_j.
    singletons: merged into (out0, lse0) as the flash path does (singletons.merge).
Backward, on rank r (the hand-written ring backward): delta = g . out with the merged out;
    the chunks travel the ring again together with fp32 accumulators dk_j, dv_j; at each step
    the chunk's share is recomputed from the merged LSE (chunk_kernels backward: p = exp(s q.k -
    lse)), dq accumulates locally, dk_j and dv_j travel with their chunk; a last rotation
    returns the accumulators to the chunks' owners. The singleton gradients are row-local.
Rows i >= valid_len - t are outside the contract: out and lse are exactly 0 there, they get
    lse = +inf in the backward and grad_out is zeroed there, so they send no gradient anywhere.
Accumulation in fp32 (fp64 for fp64 inputs); out, dq, dk, dv are rounded to the input dtype
once, at the end; lse is returned in the accumulation type.

Defects (the mutants of ring_variants.py) are selected by `defect`; None is the correct path.
"""
import torch

import singletons
from chunk_kernels import acc_dtype, make_kernel
from ring_comm import Ring

DEFECTS = (None, "own_lse", "chunk_own_lse", "diag_skip", "missing_rotation")


def valid_rows(valid_len, t, row0, rows, device):
    """[B, rows] bool: global row row0 + i is valid (< valid_len - t)."""
    i = torch.arange(row0, row0 + rows, device=device)
    return i[None, :] < (valid_len.to(device) - t)[:, None]


def merge_partials(out_a, lse_a, out_b, lse_b):
    """Two normalised partial attentions over disjoint keys, merged by their LSE."""
    lse = torch.logaddexp(lse_a, lse_b)
    out = out_a * torch.exp(lse_a - lse).unsqueeze(-1) + out_b * torch.exp(lse_b - lse).unsqueeze(-1)
    return out, lse


class _Spec:
    """What the autograd function needs besides tensors."""

    def __init__(self, ring, kernel, scale, valid, defect, step_hook):
        self.ring, self.kernel, self.scale, self.valid = ring, kernel, scale, valid
        self.defect, self.step_hook = defect, step_hook

    def hook(self, phase, step):
        if self.step_hook is not None:
            self.step_hook(phase, step)


def _block0_forward(spec, q, k, v):
    ring, acc = spec.ring, acc_dtype(q.dtype)
    out0 = lse0 = None
    for s in range(ring.size):
        j = (ring.rank - s) % ring.size
        if j <= ring.rank:
            o, l = spec.kernel.forward(q, k, v, j == ring.rank, spec.scale)
            o, l = o.to(acc), l.to(acc)
            out0, lse0 = (o, l) if out0 is None else merge_partials(out0, lse0, o, l)
        spec.hook("forward", s)
        if s < ring.size - 1:
            k, v = ring.rotate([k, v])
    return out0, lse0


def _block0_backward(spec, q, k, v, g, out, lse, lse_merged):
    """dq (this rank's rows) and dk, dv (this rank's chunk, summed over every rank's rows).
    g, out, lse: what each chunk's backward is fed (the merged out and lse on the correct
    path); lse_merged: the merged lse with +inf on invalid rows (for the chunk-own-lse defect)."""
    ring, acc, kern = spec.ring, acc_dtype(q.dtype), spec.kernel
    dq = torch.zeros(q.shape, dtype=acc, device=q.device)
    dk = torch.zeros(k.shape, dtype=acc, device=k.device)
    dv = torch.zeros(v.shape, dtype=acc, device=v.device)
    for s in range(ring.size):
        j = (ring.rank - s) % ring.size
        runs = j < ring.rank if spec.defect == "diag_skip" else j <= ring.rank
        if runs:
            causal = j == ring.rank
            if spec.defect == "chunk_own_lse":
                o_c, l_c = kern.forward(q, k, v, causal, spec.scale)
                l_c = torch.where(spec.valid[:, None, :], l_c.to(acc), torch.inf)
                w = torch.exp(l_c - lse_merged).nan_to_num(0.0).unsqueeze(-1)  # inf - inf: 0
                a, b, c = kern.backward(g.to(acc) * w, q, k, v, o_c, l_c, causal, spec.scale)
            else:
                a, b, c = kern.backward(g, q, k, v, out, lse, causal, spec.scale)
            dq += a
            dk += b
            dv += c
        spec.hook("backward", s)
        if s < ring.size - 1:
            k, v, dk, dv = ring.rotate([k, v, dk, dv])
    # Rank r now holds the accumulators of chunk r + 1: one more step returns them home.
    if ring.size > 1 and spec.defect != "missing_rotation":
        dk, dv = ring.rotate([dk, dv])
    return dq, dk, dv


class _RingTTT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, spec, q, k0, v0, *blocks):
        t = len(blocks) // 2
        ks, vs = list(blocks[:t]), list(blocks[t:])
        acc = acc_dtype(q.dtype)
        out0, lse0 = _block0_forward(spec, q, k0, v0)
        out, lse = singletons.merge(q, out0, lse0, ks, vs, spec.valid, spec.scale, acc)
        ctx.save_for_backward(q, k0, v0, *blocks)
        ctx.spec, ctx.t, ctx.out, ctx.lse = spec, t, out, lse
        if spec.defect == "own_lse":
            ctx.out0, ctx.lse0 = out0, lse0
        lse_out = lse.clone()
        ctx.mark_non_differentiable(lse_out)
        return out.to(q.dtype), lse_out

    @staticmethod
    def backward(ctx, g_out, g_lse):
        spec, t = ctx.spec, ctx.t
        q, k0, v0, *blocks = ctx.saved_tensors
        ks, vs = blocks[:t], blocks[t:]
        acc = acc_dtype(q.dtype)
        rows = spec.valid[:, None, :]
        g = torch.where(rows.unsqueeze(-1), g_out, torch.zeros((), dtype=g_out.dtype, device=g_out.device))
        lse_b = torch.where(rows, ctx.lse, torch.inf)
        dq_s, dks, dvs = singletons.backward(g, q, ctx.out, lse_b, ks, vs, spec.scale, acc)
        if spec.defect == "own_lse":
            # Block 0's backward with its own out0 and lse0, grad_out weighted by its share.
            lse0_b = torch.where(rows, ctx.lse0, torch.inf)
            g0 = g.to(acc) * torch.exp(lse0_b - lse_b).nan_to_num(0.0).unsqueeze(-1)
            dq0, dk0, dv0 = _block0_backward(spec, q, k0, v0, g0, ctx.out0, lse0_b, lse_b)
        else:
            dq0, dk0, dv0 = _block0_backward(spec, q, k0, v0, g, ctx.out, lse_b, lse_b)
        grads = [(dq0 + dq_s).to(q.dtype), dk0.to(k0.dtype), dv0.to(v0.dtype)]
        grads += [d.to(k.dtype) for d, k in zip(dks, ks)] + [d.to(v.dtype) for d, v in zip(dvs, vs)]
        return (None, *grads)


def ring_ttt_attention(q, k, v, valid_len, scale, group=None, kernel="auto", defect=None,
                       step_hook=None):
    """This rank's share of the TTT attention over the ring of `group` (None: the default
    process group). Every rank calls it together.

    q: [B, H, C, D], rows [r C, (r + 1) C) of the sequence (r this rank's index in the group);
    k, v: lists of t + 1 tensors [B, Hkv, C, D], the same rows of each cache block; valid_len:
    int64 [B], the sequences' (global) lengths; scale: the softmax scale. kernel: the block-0
    chunk kernel ("auto", "flash", "composed", or an object of chunk_kernels' contract).
    Returns (out [B, H, C, D] in q's dtype, lse [B, H, C] in the accumulation type) for these
    rows; differentiable in q, k and v through the ring backward. step_hook(phase, step), when
    given, is called after every ring step ("forward" / "backward"; tests inject failures).
    """
    if defect not in DEFECTS:
        raise ValueError(f"defect: expected one of {DEFECTS}, found {defect!r}")
    if len(k) != len(v) or not k:
        raise ValueError(f"k, v: expected two lists of t + 1 blocks, found {len(k)} and {len(v)}")
    ring = Ring(group)
    B, H, C, D = q.shape
    for name, blocks in (("k", k), ("v", v)):
        for m, x in enumerate(blocks):
            if x.dim() != 4 or x.shape[0] != B or x.shape[2] != C or x.shape[3] != D or H % x.shape[1]:
                raise ValueError(f"{name}[{m}]: expected [B={B}, Hkv, C={C}, D={D}] with H={H} a "
                                 f"multiple of Hkv, found {list(x.shape)}")
    if isinstance(kernel, str):
        kernel = make_kernel(kernel, q.device, q.dtype)
    t = len(k) - 1
    valid = valid_rows(valid_len, t, ring.rank * C, C, q.device)
    spec = _Spec(ring, kernel, float(scale), valid, defect, step_hook)
    return _RingTTT.apply(spec, q, k[0], v[0], *k[1:], *v[1:])

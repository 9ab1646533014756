"""The singleton blocks of a TTT step on one rank's rows: merging them into block 0's output by
their LSE, and their analytic gradients (docs/design.md, "The function"; docs/flash-path.md,
"The flash path"). Everything here is row-local: singleton key m of row i is k_m at the same
position i, which lives on the rank that holds row i, so no communication is needed.

Shapes: q, out0 [B, H, C, D]; lse0 [B, H, C]; ks, vs: t tensors [B, Hkv, C, D] (blocks 1..t);
valid [B, C] bool (the rows i < valid_len - t). Computations in the accumulation type `acc`.
"""
import torch


def _expand(x, group, acc):
    """[B, Hkv, C, D] -> [B, H, C, D] in acc: head h reads kv head h // group."""
    return x.to(acc).repeat_interleave(group, dim=1) if group > 1 else x.to(acc)


def _group_sum(x, hkv):
    """[B, H, C, D] -> [B, Hkv, C, D], summing the heads of each GQA group."""
    B, H, C, D = x.shape
    return x.view(B, hkv, H // hkv, C, D).sum(2)


def scores(q, ks, scale, acc):
    """c_m = s q_i . k_m,i for m = 1..t: [t, B, H, C] (empty first dimension when t = 0)."""
    B, H, C, D = q.shape
    if not ks:
        return torch.empty(0, B, H, C, dtype=acc, device=q.device)
    group = H // ks[0].shape[1]
    qa = q.to(acc)
    return torch.stack([(qa * _expand(k, group, acc)).sum(-1) * scale for k in ks])


def merge(q, out0, lse0, ks, vs, valid, scale, acc):
    """The merged (out, lse) in acc: lse = log(exp(lse0) + sum_m exp(c_m)),
    out = exp(lse0 - lse) out0 + sum_m exp(c_m - lse) v_m. Invalid rows: out = 0, lse = 0."""
    H = q.shape[1]
    c = scores(q, ks, scale, acc)
    lse = torch.logsumexp(torch.cat([lse0.to(acc).unsqueeze(0), c]), dim=0)
    out = out0.to(acc) * torch.exp(lse0.to(acc) - lse).unsqueeze(-1)
    if ks:
        group = H // ks[0].shape[1]
        for m, v in enumerate(vs):
            out = out + torch.exp(c[m] - lse).unsqueeze(-1) * _expand(v, group, acc)
    rows = valid[:, None, :]
    out = torch.where(rows.unsqueeze(-1), out, torch.zeros((), dtype=acc, device=q.device))
    lse = torch.where(rows, lse, torch.zeros((), dtype=acc, device=q.device))
    return out, lse


def backward(g, q, out, lse_bwd, ks, vs, scale, acc):
    """The singleton gradients: (dq_singletons [B, H, C, D], dks, dvs [B, Hkv, C, D] each) in
    acc, with pi_m = exp(c_m - lse), delta = g . out, dc_m = pi_m (g . v_m - delta),
    dq += s sum_m dc_m k_m, dk_m = s sum_group dc_m q, dv_m = sum_group pi_m g. `lse_bwd` is
    +inf on invalid rows (pi = 0 there); `out` the merged output (0 there)."""
    if not ks:
        return torch.zeros_like(q, dtype=acc), [], []
    H = q.shape[1]
    hkv = ks[0].shape[1]
    group = H // hkv
    ga, qa = g.to(acc), q.to(acc)
    c = scores(q, ks, scale, acc)
    delta = (ga * out.to(acc)).sum(-1)
    dq = torch.zeros_like(qa)
    dks, dvs = [], []
    for m, (k, v) in enumerate(zip(ks, vs)):
        pi = torch.exp(c[m] - lse_bwd)
        ve, ke = _expand(v, group, acc), _expand(k, group, acc)
        dc = pi * ((ga * ve).sum(-1) - delta)
        dq = dq + (dc * scale).unsqueeze(-1) * ke
        dks.append(_group_sum((dc * scale).unsqueeze(-1) * qa, hkv))
        dvs.append(_group_sum(pi.unsqueeze(-1) * ga, hkv))
    return dq, dks, dvs

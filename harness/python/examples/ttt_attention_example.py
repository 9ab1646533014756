"""An example TTT attention written the way training code writes it, for the example test.

ttt_attention(q, k, v, valid_len, scale) follows the contract of docs/own-implementation.md:
block 0 is causal attention over the prefix, block m >= 1 contributes one key per query row
(the same position i of step m's keys); the two are merged by their log-sum-exp. Scores and the
merge run in fp32, the result is returned in the input dtype with the merged lse.

ttt_attention_tiled_gqa is the same with a planted bug of a common kind: the key/value heads
are expanded to the query heads with repeat (tiling: head h reads kv head h % Hkv) instead of
repeat_interleave (head h reads kv head h // (H / Hkv)). With Hkv > 1 every output is wrong.
"""
import torch


def _expand(x, group, tiled=False):
    """[B, Hkv, L, D] -> [B, H, L, D], H = group * Hkv."""
    return x.repeat(1, group, 1, 1) if tiled else x.repeat_interleave(group, dim=1)


def _ttt(q, k, v, valid_len, scale, tiled):
    B, H, L, D = q.shape
    t = len(k) - 1
    group = H // k[0].shape[1]
    qf = q.float()
    k0 = _expand(k[0], group, tiled).float()
    v0 = _expand(v[0], group, tiled).float()
    # Block 0: causal scores over the prefix.
    s0 = (qf @ k0.transpose(-1, -2)) * scale
    causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
    s0 = s0.masked_fill(~causal, float("-inf"))
    # Blocks 1..t: one score per row, q_i . k_m,i.
    km = [_expand(k[m], group, tiled).float() for m in range(1, t + 1)]
    vm = [_expand(v[m], group, tiled).float() for m in range(1, t + 1)]
    sm = [(qf * x).sum(-1, keepdim=True) * scale for x in km]
    s = torch.cat([s0] + sm, dim=-1)                 # [B, H, L, L + t]
    lse = torch.logsumexp(s, dim=-1)                 # [B, H, L]
    p = torch.exp(s - lse[..., None])
    out = p[..., :L] @ v0
    for m in range(t):
        out = out + p[..., L + m:L + m + 1] * vm[m]
    return out.to(q.dtype), lse


def ttt_attention(q, k, v, valid_len, scale):
    return _ttt(q, k, v, valid_len, scale, tiled=False)


def ttt_attention_tiled_gqa(q, k, v, valid_len, scale):
    return _ttt(q, k, v, valid_len, scale, tiled=True)

"""flex_attention as a TTT attention function: the `flex` backend of attn-harness.

    attn-harness run CASE --backend flex --device cuda
    (the same as --backend py:kernels/flex/flex_function.py:flex_ttt --as flex)

flex_ttt(q, k, v, valid_len, scale) follows the Python-function contract of
docs/own-implementation.md: q [B, H, L, D], k and v lists of the t + 1 cache blocks
[B, Hkv, L, D], valid_len int64 [B]; it returns (out, lse). flex_attention runs over the
concatenated cache [k0 | k1 | ... | kt] (length (t + 1) L) with the TTT block mask: block 0
causal with q, kv < valid_len - t; block m >= 1 diagonal with kv mod L < valid_len - t. Rows
i >= valid_len - t attend to nothing: out is 0 there and lse is set to 0, so the function
declares invalid_rows = "zeros".

On CUDA the Triton training kernel is used, never flex_decoding: torch 2.11 picks the decoding
kernel for short query lengths and has no autotuning choice for some GQA groups (seen on the
H100 with H 4 / Hkv 1 at L 80: "NoValidChoicesError"). On the CPU torch 2.11 compiles
flex_attention for inference only and without the LSE: there flex_ttt returns out alone,
computed without autograd, and the harness records the forward only.
"""
import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

_compiled = {}


def ttt_block_mask(valid_len, t, B, L, device, make=create_block_mask):
    """The TTT block mask over the concatenated cache. `make`: create_block_mask, or
    torch.compile(create_block_mask), which never materialises the dense L x L(t+1) boolean
    mask (what training code uses at long L)."""
    n_valid = valid_len - t

    def mask_mod(b, h, q_idx, kv_idx):
        block = kv_idx // L
        j = kv_idx % L
        row_ok = (q_idx < n_valid[b]) & (j < n_valid[b])
        return row_ok & (((block == 0) & (j <= q_idx)) | ((block > 0) & (j == q_idx)))

    return make(mask_mod, B, None, L, L * (t + 1), device=device)


def compiled_flex():
    """torch.compile(flex_attention), compiled once per process (each shape once)."""
    if "fn" not in _compiled:
        _compiled["fn"] = torch.compile(flex_attention, dynamic=False)
    return _compiled["fn"]


def flex_ttt(q, k, v, valid_len, scale):
    B, H, L, D = q.shape
    t = len(k) - 1
    group = H // k[0].shape[1]
    fn = compiled_flex()
    k_cat = torch.cat(list(k), dim=2) if t > 0 else k[0]  # [B, Hkv, (t+1) L, D]
    v_cat = torch.cat(list(v), dim=2) if t > 0 else v[0]
    mask = ttt_block_mask(valid_len, t, B, L, q.device)
    if q.device.type == "cpu":  # inference only: inputs that require grad are refused
        with torch.no_grad():
            return fn(q.detach(), k_cat.detach(), v_cat.detach(), block_mask=mask, scale=scale,
                      enable_gqa=group > 1)
    out, lse = fn(q, k_cat, v_cat, block_mask=mask, scale=scale, enable_gqa=group > 1,
                  return_lse=True, kernel_options={"BACKEND": "TRITON"})
    valid = (torch.arange(L, device=q.device)[None, :] < (valid_len - t)[:, None])[:, None, :]
    return out, torch.where(valid, lse.float(), torch.zeros((), device=q.device))


flex_ttt.invalid_rows = "zeros"
flex_ttt.variant = "torch.compile(flex_attention)"

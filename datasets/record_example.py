#!/usr/bin/env python3
"""Record one TTT attention step from a PyTorch program into an attn-harness case folder.

A training run writes the step's inputs once (attn_harness.write_inputs) and each backend's
outputs it wants judged (attn_harness.record_outputs, one file CASE/outputs/<name>.h5 each);
`attn-harness gate CASE --candidate NAME` then judges them against the fp64 reference like the
harness's own backends. docs/case-format.md describes the layout.

Run as a script it records a small random step and the outputs of a plain eager attention
(explicit mask, bf16, autograd) under the producer name "torch-eager":

    python3 datasets/record_example.py CASE [--bug]

--bug plants a defect: singleton scores not scaled.
"""
import argparse
import math
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness", "python"))
from attn_harness import record_outputs, write_inputs  # noqa: E402


def eager_ttt_attention(q, ks, vs, valid_len, scale, unscaled_singletons=False):
    """Explicit-mask attention over the concatenated cache, bf16 products, fp32 softmax."""
    B, H, L, D = q.shape
    t = len(ks) - 1
    group = H // ks[0].shape[1]
    k0 = ks[0].repeat_interleave(group, dim=1)
    v0 = vs[0].repeat_interleave(group, dim=1)
    rows = torch.arange(L)
    n_valid = torch.as_tensor(valid_len) - t
    keep = (rows[None, :, None] >= rows[None, None, :]) & (rows[None, :, None] < n_valid[:, None, None])
    scores = (q @ k0.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~keep[:, None], float("-inf"))
    singles = [(q * ks[m].repeat_interleave(group, dim=1)).sum(-1, keepdim=True) *
               (1.0 if unscaled_singletons else scale) for m in range(1, t + 1)]
    scores = torch.cat([scores] + singles, dim=-1).float()
    lse = torch.logsumexp(scores, dim=-1)
    p = torch.softmax(scores, dim=-1).to(q.dtype)
    out = p[..., :L] @ v0
    for m in range(1, t + 1):
        out = out + p[..., L + m - 1:L + m] * vs[m].repeat_interleave(group, dim=1)
    valid = (rows[None, :] < n_valid[:, None])[:, None, :, None]
    return out * valid, lse * valid[..., 0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", help="case folder to write")
    parser.add_argument("--bug", action="store_true", help="plant a defect (unscaled singleton scores)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    B, H, Hkv, L, D, t = 2, 4, 2, 48, 64, 2
    valid_len = [48, 41]
    scale = 1.0 / math.sqrt(D)
    bf = torch.bfloat16
    q = (2.0 * torch.randn(B, H, L, D)).to(bf).requires_grad_()
    ks = [torch.randn(B, Hkv, L, D).to(bf).requires_grad_() for _ in range(t + 1)]
    vs = [torch.randn(B, Hkv, L, D).to(bf).requires_grad_() for _ in range(t + 1)]
    grad_out = (1e-3 * torch.randn(B, H, L, D)).to(bf)

    out, lse = eager_ttt_attention(q, ks, vs, valid_len, scale, unscaled_singletons=args.bug)
    grads = torch.autograd.grad(out, [q] + ks + vs, grad_out)
    dq, dks, dvs = grads[0], grads[1:t + 2], grads[t + 2:]

    write_inputs(args.case, q, ks, vs, valid_len, grad_out, scale)
    record_outputs(args.case, "torch-eager", out, lse, dq, list(dks), list(dvs), invalid_rows="zeros",
                   recorder="datasets/record_example.py")
    print(f"recorded inputs and producer 'torch-eager' in {args.case}")


if __name__ == "__main__":
    main()

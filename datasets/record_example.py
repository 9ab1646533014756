#!/usr/bin/env python3
"""Record one TTT attention step from a PyTorch program into an attn-harness case file.

A training run calls record_inputs() once with the step's tensors and record_outputs() for
each backend it wants judged; `attn-harness gate CASE --candidate NAME` then judges them
against the fp64 reference like the harness's own backends. The layout is README.md's
"Case files" section. bf16 is written as an HDF5 float type with bf16's field layout, so
h5py and h5dump read it back as float32 exactly.

Run as a script it records a small random step and the outputs of a plain eager attention
(explicit mask, bf16, autograd) under the producer name "torch-eager":

    python3 datasets/record_example.py case.h5 [--bug]

--bug plants the defect of issue #4 mutant (e): singleton scores not scaled.
"""
import argparse
import datetime
import math

import h5py
import numpy as np
import torch

SCHEMA_VERSION = 1


def _bf16_type():
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)  # sign bit 15, exponent at 7 (8 bits), mantissa at 0 (7 bits)
    t.set_precision(16)
    t.set_size(2)
    t.set_ebias(127)
    return t


def write_tensor(group, name, x):
    """Writes a torch tensor as bf16 (exact bits), float32 or float64."""
    x = x.detach().cpu().contiguous()
    if name in group:
        del group[name]
    if x.dtype == torch.bfloat16:
        bits = x.view(torch.int16).numpy().view(np.uint16)
        space = h5py.h5s.create_simple(tuple(bits.shape))
        tid = _bf16_type()
        dset = h5py.h5d.create(group.id, name.encode(), tid, space)
        dset.write(h5py.h5s.ALL, h5py.h5s.ALL, bits, mtype=tid)
    elif x.dtype in (torch.float32, torch.float64, torch.int64):
        group.create_dataset(name, data=x.numpy())
    else:
        raise TypeError(f"{name}: expected bf16, float32, float64 or int64, found {x.dtype}")


def record_inputs(path, q, ks, vs, valid_len, grad_out, scale):
    """q, grad_out: [B,H,L,D]; ks, vs: t+1 tensors [B,Hkv,L,D]; valid_len: [B] (right padding)."""
    B, H, L, D = q.shape
    t = len(ks) - 1
    dtype = {torch.bfloat16: "bf16", torch.float32: "f32", torch.float64: "f64"}[q.dtype]
    with h5py.File(path, "w") as f:
        f.attrs["schema_version"] = np.int32(SCHEMA_VERSION)
        for key, value in dict(B=B, H=H, Hkv=ks[0].shape[1], L=L, D=D, t=t).items():
            f.attrs[key] = np.int64(value)
        f.attrs["dtype"] = dtype
        f.attrs["scale"] = float(scale)
        inputs = f.create_group("inputs")
        write_tensor(inputs, "q", q)
        for m in range(t + 1):
            write_tensor(inputs, f"k{m}", ks[m])
            write_tensor(inputs, f"v{m}", vs[m])
        write_tensor(inputs, "valid_len", torch.as_tensor(valid_len, dtype=torch.int64))
        write_tensor(inputs, "grad_out", grad_out)


def record_outputs(path, producer, out, lse, dq, dks, dvs, invalid_rows="unspecified", **provenance):
    """Adds /outputs/<producer>; invalid_rows says what the backend does on rows >= valid_len - t."""
    with h5py.File(path, "a") as f:
        outputs = f.require_group("outputs")
        if producer in outputs:
            del outputs[producer]
        g = outputs.create_group(producer)
        for name, x in [("out", out), ("lse", lse), ("dq", dq)]:
            write_tensor(g, name, x)
        for m, (dk, dv) in enumerate(zip(dks, dvs)):
            write_tensor(g, f"dk{m}", dk)
            write_tensor(g, f"dv{m}", dv)
        attrs = dict(backend=producer, device=str(out.device), torch_version=torch.__version__,
                     dtype=str(out.dtype).replace("torch.", ""), invalid_rows=invalid_rows,
                     time=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        attrs.update(provenance)
        for key, value in attrs.items():
            g.attrs[key] = str(value)


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
    parser.add_argument("case", help="case file to write")
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

    record_inputs(args.case, q, ks, vs, valid_len, grad_out, scale)
    record_outputs(args.case, "torch-eager", out, lse, dq, dks, dvs, invalid_rows="zeros",
                   recorder="datasets/record_example.py")
    print(f"recorded inputs and producer 'torch-eager' in {args.case}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The flex_attention backend of attn-harness (Python: flex_attention needs torch.compile).

Runs flex_attention over the concatenated cache [k0 | k1 | ... | kt] (length (t+1) L) with the
TTT block mask of ../shared/DESIGN.md section 2: block 0 causal with q, kv < valid_len - t;
block m >= 1 diagonal with kv mod L < valid_len - t. Invalid rows give out 0 and (set here) lse 0.

    flex_adapter.py record CASE.h5 [--device cpu|cuda] [--as NAME] [--no-backward]

On CPU torch 2.11 compiles flex_attention for inference only and without the LSE: there the
adapter records out alone and says so in the producer's `tensors` attribute ("out"; "out,lse"
with --no-backward; "all" otherwise), which compare and gate honour.

reads the case's inputs, runs forward and backward (grad_out from the case) and records the
outputs under /outputs/<NAME> (default "flex") with provenance, compile time included, so that
`attn-harness compare/gate` judge flex like the C++ backends. Exit codes: 0 ok, 2 bad input or
unsupported (message on stderr).
"""
import argparse
import os
import sys
import time

import h5py
import torch
from torch.nn.attention.flex_attention import create_block_mask, flex_attention

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "datasets"))
from record_example import record_outputs  # noqa: E402  (the documented case-file writer)

_DTYPES = {"bf16": torch.bfloat16, "f32": torch.float32, "f64": torch.float64}


class InputError(Exception):
    pass


def read_case(path, device):
    """The case's inputs as tensors on `device` in the case dtype (bf16 read exactly via f4)."""
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not a readable HDF5 case file ({e})")
    with f:
        a = f.attrs
        for key in ("B", "H", "Hkv", "L", "D", "t", "dtype", "scale"):
            if key not in a:
                raise InputError(f"{path}: missing root attribute '{key}'")
        dtype_name = a["dtype"].decode() if isinstance(a["dtype"], bytes) else str(a["dtype"])
        if dtype_name not in _DTYPES:
            raise InputError(f"{path}: dtype: expected bf16, f32 or f64, found {dtype_name}")
        dtype = _DTYPES[dtype_name]
        t = int(a["t"])

        def load(name):
            if f"inputs/{name}" not in f:
                raise InputError(f"{path}: missing dataset /inputs/{name}")
            return torch.from_numpy(f[f"inputs/{name}"].astype("f8")[...]).to(device=device, dtype=dtype)

        case = dict(q=load("q"), grad_out=load("grad_out"),
                    k=[load(f"k{m}") for m in range(t + 1)], v=[load(f"v{m}") for m in range(t + 1)],
                    valid_len=torch.from_numpy(f["inputs/valid_len"][...].astype("i8")).to(device),
                    t=t, scale=float(a["scale"]), dtype=dtype_name)
    return case


def ttt_block_mask(valid_len, t, B, L, device):
    """The TTT block mask over the concatenated cache (DESIGN.md section 2, flex)."""
    n_valid = valid_len - t

    def mask_mod(b, h, q_idx, kv_idx):
        block = kv_idx // L
        j = kv_idx % L
        row_ok = (q_idx < n_valid[b]) & (j < n_valid[b])
        return row_ok & (((block == 0) & (j <= q_idx)) | ((block > 0) & (j == q_idx)))

    return create_block_mask(mask_mod, B=B, H=None, Q_LEN=L, KV_LEN=L * (t + 1), device=device)


def run_flex(case, backward=True, with_lse=True, compiled=None):
    """Forward (and backward with the case's grad_out). Returns (outputs, seconds)."""
    q, ks, vs, t = case["q"], case["k"], case["v"], case["t"]
    B, H, L, D = q.shape
    group = H // ks[0].shape[1]
    device = q.device
    fn = compiled or torch.compile(flex_attention, dynamic=False)
    q = q.detach().requires_grad_(backward)
    ks = [k.detach().requires_grad_(backward) for k in ks]
    vs = [v.detach().requires_grad_(backward) for v in vs]
    k_cat = torch.cat(ks, dim=2)  # [B, Hkv, (t+1) L, D]: the concatenation flex needs
    v_cat = torch.cat(vs, dim=2)
    mask = ttt_block_mask(case["valid_len"], t, B, L, device)
    start = time.perf_counter()
    valid = (torch.arange(L, device=device)[None, :] < (case["valid_len"] - t)[:, None])[:, None, :]
    # On CUDA the training kernel, never flex_decoding: torch 2.11 picks the decoding kernel for
    # short query lengths, and it has no autotuning choice for some GQA groups (seen on the H100
    # with H 4 / Hkv 1 at L 80: "NoValidChoicesError").
    options = {"kernel_options": {"BACKEND": "TRITON"}} if device.type == "cuda" else {}
    if with_lse:
        out, lse = fn(q, k_cat, v_cat, block_mask=mask, scale=case["scale"],
                      enable_gqa=group > 1, return_lse=True, **options)
        lse = torch.where(valid, lse.float(), torch.zeros((), device=device))
    else:
        out = fn(q, k_cat, v_cat, block_mask=mask, scale=case["scale"], enable_gqa=group > 1,
                 **options)
        lse = torch.zeros(B, H, L, device=device)
    outputs = dict(out=out, lse=lse)
    if backward:
        grads = torch.autograd.grad(out, [q] + ks + vs, case["grad_out"])
        outputs.update(dq=grads[0], dk=list(grads[1:t + 2]), dv=list(grads[t + 2:]))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return outputs, time.perf_counter() - start


def record(args):
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available")
    case = read_case(args.case, device)
    # torch 2.11 on CPU: "FlexAttention does not support backward on CPU" and "torch.compile on
    # CPU only supports inference and `return_lse` is not supported yet". There flex records
    # out alone, and the producer's `tensors` attribute tells compare and gate what to judge.
    cpu = device.type == "cpu"
    if cpu:
        print("flex (cpu): torch 2.11 compiles flex_attention on CPU for inference only: "
              "recording out alone (no lse, no gradients)", file=sys.stderr)
        args.no_backward = True
    # The first call compiles; its time is reported apart from the step time of the second.
    fn = torch.compile(flex_attention, dynamic=False)
    _, compile_and_run = run_flex(case, not args.no_backward, not cpu, compiled=fn)
    outputs, step = run_flex(case, not args.no_backward, not cpu, compiled=fn)
    if args.no_backward:
        zeros_q = torch.zeros_like(case["q"])
        outputs.update(dq=zeros_q, dk=[torch.zeros_like(k) for k in case["k"]],
                       dv=[torch.zeros_like(v) for v in case["v"]])
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    record_outputs(args.case, args.name, outputs["out"], outputs["lse"], outputs["dq"],
                   outputs["dk"], outputs["dv"], invalid_rows="zeros", backend="flex",
                   variant="torch.compile(flex_attention)", device_name=device_name,
                   tensors="out" if cpu else ("out,lse" if args.no_backward else "all"),
                   compile_plus_first_step_seconds=f"{compile_and_run:.3f}",
                   step_seconds=f"{step:.4f}")
    print(f"flex ({args.device}): recorded as /outputs/{args.name} in {args.case} "
          f"(compile + first step {compile_and_run:.1f} s, step {step * 1e3:.1f} ms)")


def main():
    parser = argparse.ArgumentParser(description="flex_attention backend of attn-harness")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run flex over a case file and record its outputs")
    rec.add_argument("case")
    rec.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    rec.add_argument("--as", dest="name", default="flex")
    rec.add_argument("--no-backward", action="store_true",
                     help="forward only (gradients recorded as 0 and not judged)")
    args = parser.parse_args()
    try:
        record(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

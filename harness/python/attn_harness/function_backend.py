"""A user's attention function as a backend: `attn-harness run CASE --backend py:PATH.py:FUNC`.

The function is called as

    FUNC(q, k, v, valid_len, scale)

q: [B, H, L, D]; k, v: lists of the t + 1 cache blocks [B, Hkv, L, D] (block 0 the causal
prefix, block m >= 1 the singleton keys of TTT step m); all in the case dtype on the device and
requiring grad; valid_len: int64 [B] (right padding); scale: the softmax scale (float). It
returns out [B, H, L, D] in the case dtype, or (out, lse) with lse [B, H, L] (natural log,
float32 or float64). The backward runs with the case's grad_out, zero on invalid rows
(i >= valid_len - t, as a training loss mask zeroes them); out, lse, dq, dk_m and dv_m are
recorded as CASE/outputs/<NAME>.h5 with the provenance of the function. When out does not
require grad (a forward-only function), only the forward is recorded.

Errors (the function raising, wrong types, shapes or dtypes) are InputError naming what was
expected and what was found; nothing is recorded then.

    python -m attn_harness.function_backend CASE PATH.py FUNC [--device cpu|cuda] [--as NAME]

Exit codes: 0 recorded, 2 input error (message on stderr).
"""
import argparse
import hashlib
import importlib.util
import os
import sys
import time
import traceback

from attn_harness.case import InputError, read_inputs, record_outputs


def load_function(path, name):
    """FUNC from the Python file `path`; InputError when the file or the function is missing."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such Python file (expected py:PATH.py:FUNC)")
    module_name = "attn_harness_user_" + hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # its own imports resolve beside it
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 (any failure of the user's module is reported)
        raise InputError(f"{path}: importing it raised {type(e).__name__}: {e}\n{_user_frames(e)}")
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if fn is None or not callable(fn):
        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        raise InputError(f"{path}: no function '{name}' (callables defined there: "
                         f"{', '.join(found) if found else 'none'})")
    return fn


def _user_frames(e, limit=6):
    """Where the user's code failed: the traceback's frames outside this file (the last
    `limit`), indented, ending with the exception line."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if os.path.abspath(f.filename) != os.path.abspath(__file__)][-limit:]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(e), e)
    return "".join("    " + line for line in "".join(lines).splitlines(True))


def _file_sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _check_tensor(torch, what, x, shape, dtypes, device):
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{what}: expected a torch.Tensor of shape {list(shape)}, found {type(x).__name__}")
    if list(x.shape) != list(shape):
        raise InputError(f"{what}: expected shape {list(shape)}, found {list(x.shape)}")
    if x.dtype not in dtypes:
        names = " or ".join(str(d).replace("torch.", "") for d in dtypes)
        raise InputError(f"{what}: expected dtype {names}, found {str(x.dtype).replace('torch.', '')}")
    if x.device.type != device.type:
        raise InputError(f"{what}: expected a tensor on {device.type}, found one on {x.device}")


def call_function(fn, inputs, device, label="the function"):
    """Runs fn on the inputs (forward, and backward when out requires grad). Returns a dict of
    the outputs to record (out, lse or None, dq, dks, dvs or None when forward-only), the
    forward and backward seconds, and notes."""
    import torch
    q0 = inputs["q"]
    B, H, L, D = q0.shape
    t = inputs["t"]
    q = q0.detach().clone().requires_grad_(True)
    ks = [k.detach().clone().requires_grad_(True) for k in inputs["k"]]
    vs = [v.detach().clone().requires_grad_(True) for v in inputs["v"]]
    valid_len = inputs["valid_len"].clone()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    try:
        result = fn(q, ks, vs, valid_len, inputs["scale"])
        sync()
    except Exception as e:  # noqa: BLE001 (the user's failure is an input error, never a crash)
        raise InputError(f"{label} raised {type(e).__name__}: {e}\n{_user_frames(e)}")
    forward_s = time.perf_counter() - start
    if isinstance(result, (tuple, list)):
        if len(result) != 2:
            raise InputError(f"{label} returned a {type(result).__name__} of {len(result)} items: "
                             "expected out, or (out, lse)")
        out, lse = result
    else:
        out, lse = result, None
    _check_tensor(torch, f"{label}: out", out, [B, H, L, D], [q0.dtype], device)
    if lse is not None:
        _check_tensor(torch, f"{label}: lse", lse, [B, H, L], [torch.float32, torch.float64], device)
    notes = []
    grads = dict(dq=None, dks=None, dvs=None)
    backward_s = 0.0
    if out.requires_grad:
        # grad_out zero on invalid rows, as the training loss mask makes it.
        rows = (valid_len - t).clamp(min=0)
        mask = (torch.arange(L, device=device)[None, :] < rows[:, None])[:, None, :, None]
        g = torch.where(mask, inputs["grad_out"], torch.zeros((), dtype=q0.dtype, device=device))
        start = time.perf_counter()
        try:
            got = torch.autograd.grad([out], [q] + ks + vs, [g], allow_unused=True)
            sync()
        except Exception as e:  # noqa: BLE001
            raise InputError(f"{label}: its backward raised {type(e).__name__}: {e}\n{_user_frames(e)}")
        backward_s = time.perf_counter() - start
        leaves = [("dq", q)] + [(f"dk{m}", k) for m, k in enumerate(ks)] + [(f"dv{m}", v) for m, v in enumerate(vs)]
        unused = [name for (name, _), gr in zip(leaves, got) if gr is None]
        if unused:
            notes.append("no gradient reached " + ", ".join(unused) + " (recorded as zeros)")
        got = [torch.zeros_like(x) if gr is None else gr for (_, x), gr in zip(leaves, got)]
        grads = dict(dq=got[0], dks=list(got[1:t + 2]), dvs=list(got[t + 2:]))
    else:
        notes.append("out does not require grad: forward only, no gradients recorded")
    return dict(out=out.detach(), lse=None if lse is None else lse.detach(), **grads,
                forward_s=forward_s, backward_s=backward_s, notes=notes)


def run_function(case, path, name, device="cpu", producer=None, fn=None, invalid_rows=None,
                 backend=None, **provenance):
    """Runs FUNC `name` of `path` (or the callable `fn`) over CASE and records it as `producer`
    (default: the function's name). What the function does on invalid rows is `invalid_rows`,
    else its attribute `invalid_rows` ("zeros": out, lse and gradients exactly 0 there, which
    the gate then checks), else "unspecified"; its attribute `variant`, when set, goes into the
    provenance. Returns call_function's dict plus "producer"."""
    import torch
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available to this Python (torch "
                         f"{torch.__version__})")
    if fn is None:
        fn = load_function(path, name)
    producer = producer or name
    if invalid_rows is None:
        invalid_rows = getattr(fn, "invalid_rows", "unspecified")
    if invalid_rows not in ("zeros", "unspecified"):
        raise InputError(f"{name}.invalid_rows: expected 'zeros' or 'unspecified', found {invalid_rows!r}")
    if getattr(fn, "variant", None) and "variant" not in provenance:
        provenance["variant"] = str(fn.variant)
    inputs = read_inputs(case, device)
    label = f"{os.path.basename(path) if path else 'function'}:{name}"
    r = call_function(fn, inputs, device, label)
    info = dict(function=name, source=f"py:{path}:{name}" if path else name,
                device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                forward_seconds=f"{r['forward_s']:.4f}", backward_seconds=f"{r['backward_s']:.4f}")
    if path:
        info["file"] = os.path.abspath(path)
        info["file_sha256"] = _file_sha256(path)
    if r["notes"]:
        info["notes"] = "; ".join(r["notes"])
    if backend:
        info["backend"] = backend
    info.update(provenance)
    record_outputs(case, producer, r["out"], r["lse"], r["dq"], r["dks"], r["dvs"],
                   invalid_rows=invalid_rows, **info)
    r["producer"] = producer
    return r


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m attn_harness.function_backend",
        description="Run a Python attention function over a case and record its outputs.")
    parser.add_argument("case")
    parser.add_argument("path", help="the Python file defining the function")
    parser.add_argument("function", help="the function's name")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--as", dest="producer", default=None,
                        help="record under this producer name (default: the function's name)")
    args = parser.parse_args(argv)
    try:
        r = run_function(args.case, args.path, args.function, args.device, args.producer)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # the interpreter itself lacks torch, h5py or numpy
        print(f"error: {sys.executable} cannot import {e.name}: a Python function backend needs "
              "torch, h5py and numpy in the interpreter that runs it (set ATTN_PYTHON to one that "
              "has them)", file=sys.stderr)
        return 2
    for note in r["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"{r['producer']} ({args.device}): recorded as {os.path.join(args.case, 'outputs', r['producer'] + '.h5')} "
          f"(forward {r['forward_s'] * 1e3:.1f} ms, backward {r['backward_s'] * 1e3:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

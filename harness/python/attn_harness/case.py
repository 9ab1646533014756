"""Case folders from Python (docs/case-format.md): CASE/inputs.h5 holds the inputs and their
hash, CASE/outputs/<producer>.h5 one producer's outputs, tied to the inputs by that hash. Every
file is written under a temporary name in its folder and renamed into place.

bf16 is stored as an HDF5 16-bit float type with bf16's field layout (sign bit 15, 8 exponent
bits at 7, 7 mantissa bits at 0, bias 127), so h5py reads it as float32 exactly
(f["inputs/q"].astype("f4")).
"""
import datetime
import json
import os
import shutil
import struct
import subprocess

import h5py
import numpy as np

SCHEMA_VERSION = 2
_DTYPE_NAMES = {"bf16", "f32", "f64"}


class InputError(Exception):
    """A case that cannot be read or written, or outputs of the wrong shape or type."""


def _bf16_type():
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)  # sign bit 15, exponent at 7 (8 bits), mantissa at 0 (7 bits)
    t.set_precision(16)
    t.set_size(2)
    t.set_ebias(127)
    return t


def _torch():
    import torch  # imported late: reading and hashing need only h5py and numpy
    return torch


def _write_tensor(group, name, x):
    """A torch tensor (or numpy array) as bf16 (exact bits), float32, float64 or int64."""
    torch = _torch()
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    x = x.detach().cpu().contiguous()
    if x.dtype == torch.bfloat16:
        bits = x.view(torch.int16).numpy().view(np.uint16)
        space = h5py.h5s.create_simple(tuple(bits.shape))
        tid = _bf16_type()
        dset = h5py.h5d.create(group.id, name.encode(), tid, space)
        dset.write(h5py.h5s.ALL, h5py.h5s.ALL, bits, mtype=tid)
    elif x.dtype in (torch.float32, torch.float64, torch.int64):
        group.create_dataset(name, data=x.numpy())
    elif x.dtype == torch.float16:
        group.create_dataset(name, data=x.float().numpy())  # every fp16 value is an fp32 value
    else:
        raise InputError(f"{name}: expected bf16, float16, float32, float64 or int64, found {x.dtype}")


def _replace_atomically(target, write):
    """Runs write(temp_path), then renames the temporary file over `target`."""
    folder = os.path.dirname(os.path.abspath(target))
    temp = os.path.join(folder, f".{os.path.basename(target)}.tmp.{os.getpid()}.0")
    try:
        write(temp)
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _raw_bytes(dset):
    """A dataset's values as stored (bf16 as its 2-byte patterns), little-endian."""
    t = dset.id.get_type()
    if t.get_class() == h5py.h5t.FLOAT and t.get_size() == 2:
        raw = np.empty(dset.shape, dtype=np.uint16)
        dset.id.read(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=dset.id.get_type())
        return raw.astype("<u2").tobytes()
    size = t.get_size()
    return dset[...].astype("<f4" if size == 4 else "<f8").tobytes()


def _hash_of(sizes, dtype_name, scale, raws):
    """XXH64 over the header and the per-tensor XXH64 digests (docs/case-format.md). `raws`:
    the stored bytes of q, k0..kt, v0..vt, valid_len, grad_out in this order."""
    import xxhash
    header = b"attn-harness inputs v2\0"
    for v in sizes:
        header += int(v).to_bytes(8, "little", signed=True)
    header += dtype_name.encode() + b"\0" + struct.pack("<d", float(scale))
    for raw in raws:
        header += xxhash.xxh64(raw, seed=0).intdigest().to_bytes(8, "little")
    return xxhash.xxh64(header, seed=0).hexdigest()


def _tensor_bytes(x):
    """A torch tensor's values as the case stores them (bf16 as 2-byte patterns), little-endian."""
    torch = _torch()
    x = x.detach().cpu().contiguous()
    if x.dtype == torch.bfloat16:
        return x.view(torch.int16).numpy().astype("<i2").tobytes()
    return x.numpy().astype(x.numpy().dtype.newbyteorder("<")).tobytes()


def input_hash(case):
    """The inputs' hash of docs/case-format.md, computed from their values (needs the xxhash
    module; without it, asks `attn-harness info --verify`)."""
    path = os.path.join(case, "inputs.h5") if os.path.isdir(case) else case
    try:
        import xxhash  # noqa: F401
    except ImportError:
        exe = os.environ.get("ATTN_HARNESS") or shutil.which("attn-harness")
        if not exe:
            raise InputError("computing the input hash needs the python module xxhash "
                             "(pip install xxhash) or attn-harness on the PATH (or ATTN_HARNESS)")
        r = subprocess.run([exe, "info", case, "--verify", "--json", "-"], capture_output=True, text=True)
        if r.returncode != 0:
            raise InputError(r.stderr.strip())
        return json.loads(r.stdout)["input_hash"]
    with h5py.File(path, "r") as f:
        a = f.attrs
        dtype = a["dtype"]
        t = int(a["t"])
        names = ["q"] + [f"k{m}" for m in range(t + 1)] + [f"v{m}" for m in range(t + 1)]
        raws = [f["inputs/valid_len"][...].astype("<i8").tobytes() if name == "valid_len"
                else _raw_bytes(f["inputs/" + name]) for name in names + ["valid_len", "grad_out"]]
        return _hash_of([a[k] for k in ("B", "H", "Hkv", "L", "D", "t")],
                        dtype.decode() if isinstance(dtype, bytes) else str(dtype), a["scale"], raws)


def write_inputs(case, q, ks, vs, valid_len, grad_out, scale=None):
    """Writes CASE/inputs.h5 (creating the folder). q, grad_out: [B, H, L, D]; ks, vs: t + 1
    tensors [B, Hkv, L, D] (block 0 the causal prefix); valid_len: [B] (right padding); all in
    one dtype (bf16, float32 or float64). Returns the inputs' hash."""
    torch = _torch()
    B, H, L, D = q.shape
    t = len(ks) - 1
    names = {torch.bfloat16: "bf16", torch.float32: "f32", torch.float64: "f64"}
    if q.dtype not in names:
        raise InputError(f"q: expected bf16, float32 or float64, found {q.dtype}")
    for name, x in [("grad_out", grad_out)] + [(f"k{m}", k) for m, k in enumerate(ks)] + \
                   [(f"v{m}", v) for m, v in enumerate(vs)]:
        if x.dtype != q.dtype:
            raise InputError(f"{name}: expected {q.dtype} (q's dtype), found {x.dtype}")
    os.makedirs(os.path.join(case, "outputs"), exist_ok=True)
    scale = float(scale if scale is not None else 1.0 / D ** 0.5)
    valid_len = torch.as_tensor(valid_len, dtype=torch.int64)
    try:
        h = _hash_of([B, H, ks[0].shape[1], L, D, t], names[q.dtype], scale,
                     [_tensor_bytes(x) for x in [q] + list(ks) + list(vs) + [valid_len, grad_out]])
    except ImportError:
        h = None  # no xxhash: attn-harness computes it when it reads the case

    def write(path):
        with h5py.File(path, "w") as f:
            f.attrs["schema_version"] = np.int32(SCHEMA_VERSION)
            for key, value in dict(B=B, H=H, Hkv=ks[0].shape[1], L=L, D=D, t=t).items():
                f.attrs[key] = np.int64(value)
            f.attrs["dtype"] = names[q.dtype]
            f.attrs["scale"] = scale
            if h is not None:
                f.attrs["input_hash"] = h
            g = f.create_group("inputs")
            _write_tensor(g, "q", q)
            for m in range(t + 1):
                _write_tensor(g, f"k{m}", ks[m])
                _write_tensor(g, f"v{m}", vs[m])
            _write_tensor(g, "valid_len", valid_len)
            _write_tensor(g, "grad_out", grad_out)

    _replace_atomically(os.path.join(case, "inputs.h5"), write)
    return h if h is not None else input_hash(case)


def read_inputs(case, device="cpu", rows=None):
    """The inputs of a case folder as torch tensors on `device`, in the case dtype:
    dict(q, k (list), v (list), valid_len (int64), grad_out, t, scale, dtype, input_hash, L).
    rows=(start, stop): only positions start..stop-1 of q, grad_out and every block (their
    third dimension), read from the file alone (a sequence-parallel rank's share); valid_len
    and L stay those of the whole case."""
    torch = _torch()
    path = os.path.join(case, "inputs.h5") if os.path.isdir(case) else case
    if not os.path.exists(path):
        raise InputError(f"{case}: no such case (expected a folder holding inputs.h5)")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(f"{path}: not a readable HDF5 case file ({e})")
    dtypes = {"bf16": torch.bfloat16, "f32": torch.float32, "f64": torch.float64}
    with f:
        a = f.attrs
        for key in ("B", "H", "Hkv", "L", "D", "t", "dtype", "scale"):
            if key not in a:
                raise InputError(f"{path}: missing root attribute '{key}'")
        dtype_name = a["dtype"].decode() if isinstance(a["dtype"], bytes) else str(a["dtype"])
        if dtype_name not in dtypes:
            raise InputError(f"{path}: attribute dtype: expected bf16, f32 or f64, found {dtype_name}")
        t = int(a["t"])
        L = int(a["L"])
        if rows is not None and not (0 <= rows[0] <= rows[1] <= L):
            raise InputError(f"{path}: rows {rows[0]}..{rows[1]}: expected 0 <= start <= stop <= L = {L}")
        part = slice(None) if rows is None else slice(int(rows[0]), int(rows[1]))

        def load(name):
            if f"inputs/{name}" not in f:
                raise InputError(f"{path}: missing dataset /inputs/{name}")
            values = f[f"inputs/{name}"].astype("f8")[:, :, part, :]  # exact: bf16/f32 -> f64
            return torch.from_numpy(values).to(device=device, dtype=dtypes[dtype_name])

        recorded = a.get("input_hash", "")
        return dict(q=load("q"), grad_out=load("grad_out"),
                    k=[load(f"k{m}") for m in range(t + 1)], v=[load(f"v{m}") for m in range(t + 1)],
                    valid_len=torch.from_numpy(f["inputs/valid_len"][...].astype("i8")).to(device),
                    t=t, L=L, scale=float(a["scale"]), dtype=dtype_name,
                    input_hash=recorded.decode() if isinstance(recorded, bytes) else str(recorded))


def record_outputs(case, producer, out, lse=None, dq=None, dks=None, dvs=None,
                   invalid_rows="unspecified", **provenance):
    """Writes CASE/outputs/<producer>.h5: out [B, H, L, D], and when given lse [B, H, L] (natural
    log), dq, dks and dvs (t + 1 tensors each) as float tensors of any precision; the inputs'
    hash (from inputs.h5) ties them to the inputs. invalid_rows says what the producer does on
    rows >= valid_len - t ("zeros" or "unspecified"); keyword arguments become provenance."""
    torch = _torch()
    if not (isinstance(producer, str) and producer and producer[0] != "." and
            all(c.isalnum() or c in "._-" for c in producer) and len(producer) <= 128):
        raise InputError(f"invalid producer name {producer!r}: expected 1-128 letters, digits, "
                         "'.', '_' or '-', not starting with '.'")
    path = os.path.join(case, "inputs.h5")
    if not os.path.exists(path):
        raise InputError(f"{case}: no such case folder (expected {path})")
    with h5py.File(path, "r") as f:
        h = f.attrs.get("input_hash", "")
    h = h.decode() if isinstance(h, bytes) else str(h)
    if not h:
        h = input_hash(case)
    os.makedirs(os.path.join(case, "outputs"), exist_ok=True)
    if (dks is None) != (dvs is None):
        raise InputError("record dks and dvs together (or neither)")

    def write(tmp):
        with h5py.File(tmp, "w") as g:
            g.attrs["schema_version"] = np.int32(SCHEMA_VERSION)
            g.attrs["input_hash"] = h
            _write_tensor(g, "out", out)
            if lse is not None:
                _write_tensor(g, "lse", lse.float() if lse.dtype != torch.float64 else lse)
            if dq is not None:
                _write_tensor(g, "dq", dq)
            for m, (dk, dv) in enumerate(zip(dks or [], dvs or [])):
                _write_tensor(g, f"dk{m}", dk)
                _write_tensor(g, f"dv{m}", dv)
            attrs = dict(backend=producer, device=str(out.device), torch_version=torch.__version__,
                         dtype=str(out.dtype).replace("torch.", ""), invalid_rows=invalid_rows,
                         time=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            attrs.update(provenance)
            for key, value in attrs.items():
                g.attrs[key] = str(value)

    _replace_atomically(os.path.join(case, "outputs", producer + ".h5"), write)

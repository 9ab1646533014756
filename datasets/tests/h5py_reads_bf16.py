#!/usr/bin/env python3
"""Other tools read what attn-harness writes, and attn-harness reads what h5py writes.

    h5py_reads_bf16.py h5py   WRITER   h5py reads the C++ writer's bf16 as float32 exactly
                                       (f['inputs/q'].astype('f4')[...]), attributes and
                                       outputs too, and (with the xxhash module) reproduces
                                       the input hash from its documented recipe; a case
                                       folder written with h5py, and a schema-1 single file,
                                       are read by the C++ reader with the same values
    h5py_reads_bf16.py h5dump WRITER   h5dump prints the true values of /inputs/q

WRITER is the attn-case-fixture-writer executable. Exit status 77 (ctest SKIP_RETURN_CODE)
when the tool a mode needs (h5py, or h5dump) is not installed; 1 on any mismatch.
"""
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77

# Mirrors kQValues in fixture_writer.cpp: every one is a bf16 value.
Q_VALUES = [1.0, -2.5, 3.140625, 2.0**-100, 255.0 * 2.0**120, 2.0**-133, 127.0 * 2.0**-133, -0.0,
            2.0**-126, 65280.0, -0.333984375, 1.9921875]
Q_BITS = [0x3F80, 0xC020, 0x4049, 0x0D80, 0x7F7F, 0x0001, 0x007F, 0x8000, 0x0080, 0x477F, 0xBEAB, 0x3FFF]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def same_bits(got, expected, what):
    got = [float(x) for x in got]
    check(len(got) == len(expected), f"{what}: {len(got)} values, expected {len(expected)}")
    for i, (g, e) in enumerate(zip(got, expected)):
        check(f32_bits(g) == f32_bits(e) if not math.isnan(e) else math.isnan(g),
              f"{what}[{i}]: got {g!r}, expected {e!r}")


def run_writer(writer, *args):
    r = subprocess.run([writer, *args], capture_output=True, text=True)
    check(r.returncode == 0, f"{os.path.basename(writer)} {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def bf16_type(h5py):
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)  # sign bit 15, 8 exponent bits at 7, 7 mantissa bits at 0
    t.set_precision(16)
    t.set_size(2)
    t.set_ebias(127)
    return t


def h5py_mode(writer, work):
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        print(f"SKIP: h5py/numpy not importable with {sys.executable}: {e}")
        return SKIP

    # 1. C++ writes, h5py reads.
    case = os.path.join(work, "fixture")
    run_writer(writer, "write", case)
    path = os.path.join(case, "inputs.h5")
    with h5py.File(path, "r") as f:
        q = f["inputs/q"]
        check(q.shape == (1, 1, 3, 4), f"q shape {q.shape}")
        values = q.astype("f4")[...]
        check(values.dtype == np.float32, f"astype gave {values.dtype}")
        same_bits(values.reshape(-1), Q_VALUES, "h5py inputs/q.astype('f4')")
        # The raw bits are bf16's: read them through the same HDF5 type into uint16.
        raw = np.empty(q.shape, dtype=np.uint16)
        q.id.read(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=bf16_type(h5py))
        check(raw.reshape(-1).tolist() == Q_BITS, f"raw bits {[hex(b) for b in raw.reshape(-1)]}")
        tid = q.id.get_type()
        check(tid.get_size() == 2 and tid.get_fields() == (15, 7, 8, 0, 7) and tid.get_ebias() == 127,
              f"type fields {tid.get_fields()} size {tid.get_size()} bias {tid.get_ebias()}")
        a = f.attrs
        check(int(a["schema_version"]) == 2, f"schema_version {a['schema_version']}")
        check([int(a[k]) for k in ("B", "H", "Hkv", "L", "D", "t")] == [1, 1, 1, 3, 4, 0], "sizes")
        dtype = a["dtype"]
        check((dtype.decode() if isinstance(dtype, bytes) else dtype) == "bf16", f"dtype attribute {dtype!r}")
        check(float(a["scale"]) == 0.5, f"scale {a['scale']}")
        check(f["inputs/valid_len"][...].tolist() == [3] and f["inputs/valid_len"].dtype == np.int64, "valid_len")
        check(int(f["generator"].attrs["seed"]) == 7, "generator seed")
        recorded_hash = a["input_hash"]
        recorded_hash = recorded_hash.decode() if isinstance(recorded_hash, bytes) else recorded_hash
        try:
            import xxhash
        except ImportError:
            xxhash = None
        if xxhash is not None:
            check(input_hash(f, xxhash, np) == recorded_hash,
                  f"the documented hash recipe gives {input_hash(f, xxhash, np)}, the file says {recorded_hash}")
        else:
            print("note: python module xxhash missing; the hash recipe was not checked")
    with h5py.File(os.path.join(case, "outputs", "fixture.h5"), "r") as p:
        check(p.attrs["backend"] == "fixture", f"provenance {dict(p.attrs)}")
        check(p.attrs["input_hash"] == recorded_hash, "the producer carries the inputs' hash")
        same_bits(p["out"].astype("f4")[...].reshape(-1), Q_VALUES, "outputs/fixture.h5 out")
        check(p["lse"].dtype == np.float32 and p["lse"][...].reshape(-1).tolist() == [0.5, -1.25, 3.0], "lse")
        check(p["dq"].dtype == np.float64, "dq dtype")

    # 2. h5py writes a case folder and records a producer (as docs/case-format.md shows), C++
    #    reads; then the same as one schema-1 file (the earlier single-file format).
    qv = np.array(Q_VALUES, dtype=np.float32).reshape(1, 1, 3, 4)
    bits = (qv.view(np.uint32) >> 16).astype(np.uint16)
    kv = np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 1, 3, 4)
    kbits = (kv.view(np.uint32) >> 16).astype(np.uint16)  # truncation gives bf16 values too

    def write_inputs(f, schema):
        f.attrs["schema_version"] = np.int32(schema)
        for key, value in dict(B=1, H=1, Hkv=1, L=3, D=4, t=0).items():
            f.attrs[key] = np.int64(value)
        f.attrs["dtype"] = "bf16"
        f.attrs["scale"] = 0.5
        g = f.create_group("inputs")
        for name, data in (("q", bits), ("k0", kbits), ("v0", kbits), ("grad_out", bits)):
            space = h5py.h5s.create_simple(data.shape)
            tid = bf16_type(h5py)
            d = h5py.h5d.create(g.id, name.encode(), tid, space)
            d.write(h5py.h5s.ALL, h5py.h5s.ALL, data, mtype=tid)
        g["valid_len"] = np.array([2], dtype=np.int64)

    def write_outputs(o, input_hash_value):
        o["out"] = qv
        o["lse"] = np.array([[[0.25, 1.5, -3.0]]], dtype=np.float32)
        o["dq"] = qv.astype(np.float64)
        o["dk0"] = qv
        o["dv0"] = qv
        o.attrs["backend"] = "torch-eager"
        o.attrs["torch_version"] = "2.11.0"
        o.attrs["step"] = np.int64(3)
        if input_hash_value is not None:
            o.attrs["input_hash"] = input_hash_value

    case2 = os.path.join(work, "from_h5py")
    os.makedirs(os.path.join(case2, "outputs"))
    with h5py.File(os.path.join(case2, "inputs.h5"), "w") as f:
        write_inputs(f, 2)  # no input_hash attribute: the C++ side computes it
    text = run_writer(writer, "dump", case2)
    h = re.search(r"^hash ([0-9a-f]{16})$", text, re.M)
    check(h is not None, text)
    tmp = os.path.join(case2, "outputs", ".torch-eager.h5.tmp")
    with h5py.File(tmp, "w") as o:
        write_outputs(o, h.group(1))
    os.replace(tmp, os.path.join(case2, "outputs", "torch-eager.h5"))
    for path2, state in ((case2, "current"), (os.path.join(work, "schema1.h5"), "unverified")):
        if path2.endswith(".h5"):
            with h5py.File(path2, "w") as f:
                write_inputs(f, 1)
                write_outputs(f.create_group("outputs/torch-eager"), None)
        text = run_writer(writer, "dump", path2)
        check(f"state torch-eager {state}" in text, f"{path2}: expected state {state}:\n{text}")
        check_dump(text, kbits, np)
    print("OK: h5py reads bf16 as float32 exactly; the C++ reader reads h5py-written cases")
    return 0


def input_hash(f, xxhash, np):
    """docs/case-format.md's recipe for the input hash, from an open inputs file."""
    a = f.attrs
    header = b"attn-harness inputs v2\0"
    for key in ("B", "H", "Hkv", "L", "D", "t"):
        header += int(a[key]).to_bytes(8, "little", signed=True)
    dtype = a["dtype"]
    header += (dtype.decode() if isinstance(dtype, bytes) else dtype).encode() + b"\0"
    header += struct.pack("<d", float(a["scale"]))
    t = int(a["t"])
    names = ["q"] + [f"k{m}" for m in range(t + 1)] + [f"v{m}" for m in range(t + 1)] + ["valid_len", "grad_out"]
    for name in names:
        d = f["inputs/" + name]
        if name == "valid_len":
            raw = d[...].astype("<i8").tobytes()
        else:  # the stored bytes: bf16 read through its own type as uint16
            raw = np.empty(d.shape, dtype=np.uint16)
            d.id.read(__import__("h5py").h5s.ALL, __import__("h5py").h5s.ALL, raw, mtype=d.id.get_type())
            raw = raw.tobytes()
        header += xxhash.xxh64(raw, seed=0).intdigest().to_bytes(8, "little")
    return xxhash.xxh64(header, seed=0).hexdigest()


def check_dump(text, kbits, np):
    lines = {ln.split(" ", 1)[0]: ln for ln in text.splitlines()
             if not ln.startswith("provenance") and not ln.startswith("state")}
    check(lines["config"] == "config B=1 H=1 Hkv=1 L=3 D=4 t=0 dtype=bf16 scale=0.5", lines["config"])
    q_line = lines["q"].split()
    check(q_line[1:3] == ["bf16", "[1,"], f"q header {q_line[:6]}")
    same_bits([float(x) for x in q_line[6:]], Q_VALUES, "C++ read of h5py-written q")
    same_bits([float(x) for x in lines["k0"].split()[6:]], (kbits.astype(np.uint32) << 16).view(np.float32).reshape(-1).tolist(),
              "C++ read of h5py-written k0")
    check(lines["valid_len"] == "valid_len 2", lines["valid_len"])
    check("provenance torch-eager backend=torch-eager" in text, text)
    check("provenance torch-eager step=3" in text, text)
    check(lines["torch-eager.lse"].split()[1] == "f32", lines["torch-eager.lse"])
    same_bits([float(x) for x in lines["torch-eager.lse"].split()[5:]], [0.25, 1.5, -3.0], "lse")


def h5dump_values(text):
    """The numbers of the DATA block of one dataset in h5dump's output."""
    m = re.search(r"DATA \{(.*?)\n\s*\}", text, re.S)
    check(m is not None, "no DATA block in h5dump output:\n" + text)
    values = []
    for line in m.group(1).splitlines():
        line = line.strip()
        if "):" in line:
            line = line.split("):", 1)[1]
        values += [v.strip() for v in line.split(",") if v.strip()]
    return values


def h5dump_mode(writer, work):
    h5dump = shutil.which("h5dump")
    if h5dump is None:
        print("SKIP: h5dump not found on PATH (Debian package hdf5-tools)")
        return SKIP
    case = os.path.join(work, "fixture")
    run_writer(writer, "write", case)
    path = os.path.join(case, "inputs.h5")

    r = subprocess.run([h5dump, "-d", "/inputs/q", path], capture_output=True, text=True)
    check(r.returncode == 0, f"h5dump failed: {r.stderr}")
    check("16-bit little-endian floating-point 16-bit precision" in r.stdout, "DATATYPE line:\n" + r.stdout)
    shown = h5dump_values(r.stdout)
    # h5dump's default format is %g (6 significant digits).
    check(shown == ["%g" % v for v in Q_VALUES], f"h5dump default output {shown}, expected {['%g' % v for v in Q_VALUES]}")

    # With 9 significant digits every float32 is printed uniquely: the values are exact.
    r = subprocess.run([h5dump, "-m", "%.9g", "-d", "/inputs/q", path], capture_output=True, text=True)
    check(r.returncode == 0, f"h5dump -m failed: {r.stderr}")
    same_bits([struct.unpack("<f", struct.pack("<f", float(v)))[0] for v in h5dump_values(r.stdout)], Q_VALUES,
              "h5dump -m %.9g values")
    print("OK: h5dump prints the true bf16 values")
    return 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("h5py", "h5dump"):
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory(prefix="attn-h5py-") as work:
        return (h5py_mode if sys.argv[1] == "h5py" else h5dump_mode)(os.path.abspath(sys.argv[2]), work)


if __name__ == "__main__":
    sys.exit(main())

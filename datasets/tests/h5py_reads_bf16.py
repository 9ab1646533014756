#!/usr/bin/env python3
"""Other tools read what attn-harness writes, and attn-harness reads what h5py writes.

    h5py_reads_bf16.py h5py   WRITER   h5py reads the C++ writer's bf16 as float32 exactly
                                       (f['inputs/q'].astype('f4')[...]), attributes and
                                       outputs too; and a case written with h5py (as
                                       datasets/record_example.py does) is read by the C++
                                       reader with the same values
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
    path = os.path.join(work, "fixture.h5")
    run_writer(writer, "write", path)
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
        check(int(a["schema_version"]) == 1, f"schema_version {a['schema_version']}")
        check([int(a[k]) for k in ("B", "H", "Hkv", "L", "D", "t")] == [1, 1, 1, 3, 4, 0], "sizes")
        dtype = a["dtype"]
        check((dtype.decode() if isinstance(dtype, bytes) else dtype) == "bf16", f"dtype attribute {dtype!r}")
        check(float(a["scale"]) == 0.5, f"scale {a['scale']}")
        check(f["inputs/valid_len"][...].tolist() == [3] and f["inputs/valid_len"].dtype == np.int64, "valid_len")
        check(int(f["generator"].attrs["seed"]) == 7, "generator seed")
        p = f["outputs/fixture"]
        check(p.attrs["backend"] == "fixture", f"provenance {dict(p.attrs)}")
        same_bits(p["out"].astype("f4")[...].reshape(-1), Q_VALUES, "outputs/fixture/out")
        check(p["lse"].dtype == np.float32 and p["lse"][...].reshape(-1).tolist() == [0.5, -1.25, 3.0], "lse")
        check(p["dq"].dtype == np.float64, "dq dtype")

    # 2. h5py writes (as datasets/record_example.py does), C++ reads.
    path2 = os.path.join(work, "from_h5py.h5")
    qv = np.array(Q_VALUES, dtype=np.float32).reshape(1, 1, 3, 4)
    bits = (qv.view(np.uint32) >> 16).astype(np.uint16)
    kv = np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 1, 3, 4)
    kbits = (kv.view(np.uint32) >> 16).astype(np.uint16)  # truncation gives bf16 values too
    with h5py.File(path2, "w") as f:
        f.attrs["schema_version"] = np.int32(1)
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
        o = f.create_group("outputs/torch-eager")
        o["out"] = qv
        o["lse"] = np.array([[[0.25, 1.5, -3.0]]], dtype=np.float32)
        o["dq"] = qv.astype(np.float64)
        o["dk0"] = qv
        o["dv0"] = qv
        o.attrs["backend"] = "torch-eager"
        o.attrs["torch_version"] = "2.11.0"
        o.attrs["step"] = np.int64(3)
    text = run_writer(writer, "dump", path2)
    lines = {ln.split(" ", 1)[0]: ln for ln in text.splitlines() if not ln.startswith("provenance")}
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
    print("OK: h5py reads bf16 as float32 exactly; the C++ reader reads h5py-written cases")
    return 0


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
    path = os.path.join(work, "fixture.h5")
    run_writer(writer, "write", path)

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

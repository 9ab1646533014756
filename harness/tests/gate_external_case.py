#!/usr/bin/python3
"""A case written from outside the C++ code (h5py + numpy only), gated by attn-harness.

Writes a small TTT case folder (docs/case-format.md): inputs.h5, then asks attn-harness for the
inputs' hash (`info --verify --json -`) and records three producers as outputs/<name>.h5,
computed in numpy float32 from the function of docs/design.md and rounded to bf16 (lse kept in
float32):
  ext      the structured form (block 0 causal + one singleton per block, merged by LSE),
           invalid rows exactly 0, declared invalid_rows = "zeros";
  sdpa     the dense form (concatenated keys, explicit -inf mask), arbitrary finite values on
           invalid rows, declared "unspecified" (the gate must ignore them);
  ext_bad  ext with the defect that once shipped: the block-0 backward uses block 0's own LSE
           and output instead of the merged ones (dq and dk0 lose part of their value).
Then checks: `gate --candidate ext` exits 0, `gate --candidate ext_bad` exits 1 naming dq,
a relative gate without the baseline exits 2, the bf16 type reads back exactly, and the same
case as one schema-1 file (the earlier single-file format) is still judged, with a note.

Usage: gate_external_case.py PATH/TO/attn-harness
       gate_external_case.py --write CASE PATH/TO/attn-harness   (only write the case folder)
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError as e:  # ctest treats 77 as skipped
    print("SKIP: %s" % e)
    sys.exit(77)

B, H, HKV, L, D, T = 2, 4, 2, 24, 16, 2
VALID_LEN = np.array([24, 17], dtype=np.int64)
SCALE = 1.0 / np.sqrt(D)


def bf16_type():
    """HDF5 16-bit float with bf16's layout: sign bit 15, 8 exponent bits at 7, 7 mantissa bits."""
    t = h5py.h5t.IEEE_F32LE.copy()
    t.set_fields(15, 7, 8, 0, 7)
    t.set_precision(16)
    t.set_size(2)
    t.set_ebias(127)
    return t


def bf16_bits(x):
    """float32 -> bf16 bit patterns, round to nearest even (finite inputs)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def from_bf16_bits(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def round_bf16(x):
    return from_bf16_bits(bf16_bits(x))


def write_bf16(group, name, x):
    bits = bf16_bits(x)
    tid = bf16_type()
    space = h5py.h5s.create_simple(bits.shape)
    dset = h5py.h5d.create(group.id, name.encode(), tid, space)
    dset.write(h5py.h5s.ALL, h5py.h5s.ALL, bits, mtype=tid)


def structured(q, k, v, g, own_lse_bug=False):
    """The TTT function (docs/design.md) per (b, h), float32; invalid rows 0 (the 'zeros' contract)."""
    f32 = np.float32
    out = np.zeros((B, H, L, D), f32); lse = np.zeros((B, H, L), f32); dq = np.zeros_like(out)
    dk = [np.zeros((B, HKV, L, D), f32) for _ in range(T + 1)]
    dv = [np.zeros((B, HKV, L, D), f32) for _ in range(T + 1)]
    s = f32(SCALE)
    for b in range(B):
        n = int(VALID_LEN[b] - T)
        if n <= 0:
            continue
        for h in range(H):
            kv = h // (H // HKV)
            qi, gi = q[b, h, :n], g[b, h, :n]
            k0, v0 = k[0][b, kv, :n], v[0][b, kv, :n]
            a = s * (qi @ k0.T)
            a = np.where(np.tril(np.ones((n, n), bool)), a, f32(-np.inf))
            c = np.stack([s * np.sum(qi * k[m][b, kv, :n], axis=1) for m in range(1, T + 1)], 1) if T else np.zeros((n, 0), f32)
            mx = np.maximum(a.max(1), c.max(1) if T else f32(-np.inf))
            se = np.exp(a - mx[:, None]).sum(1) + np.exp(c - mx[:, None]).sum(1)
            l = mx + np.log(se)
            p = np.exp(a - l[:, None]); pi = np.exp(c - l[:, None])
            o = p @ v0 + sum(pi[:, m - 1:m] * v[m][b, kv, :n] for m in range(1, T + 1))
            delta = np.sum(gi * o, axis=1)
            p0, delta0 = p, delta
            if own_lse_bug:  # block 0's own softmax and output in its backward
                l0 = mx + np.log(np.exp(a - mx[:, None]).sum(1))
                p0 = np.exp(a - l0[:, None])
                delta0 = np.sum(gi * (p0 @ v0), axis=1)
            ds = p0 * (gi @ v0.T - delta0[:, None])
            dqi = s * (ds @ k0)
            dk[0][b, kv, :n] += s * (ds.T @ qi)
            dv[0][b, kv, :n] += p.T @ gi
            for m in range(1, T + 1):
                dc = pi[:, m - 1] * (np.sum(gi * v[m][b, kv, :n], axis=1) - delta)
                dqi += s * dc[:, None] * k[m][b, kv, :n]
                dk[m][b, kv, :n] += s * dc[:, None] * qi
                dv[m][b, kv, :n] += pi[:, m - 1:m] * gi
            out[b, h, :n], lse[b, h, :n], dq[b, h, :n] = o, l, dqi
    return out, lse, dq, dk, dv


def dense(q, k, v, g, rng):
    """Concatenated keys and an explicit mask; invalid rows get arbitrary finite values."""
    f32 = np.float32
    out = np.zeros((B, H, L, D), f32); lse = np.zeros((B, H, L), f32); dq = np.zeros_like(out)
    dkc = np.zeros((B, HKV, (T + 1) * L, D), f32); dvc = np.zeros_like(dkc)
    s = f32(SCALE)
    i = np.arange(L)[:, None]; j = np.arange(L)[None, :]
    allowed = np.concatenate([j <= i] + [j == i] * T, axis=1)  # [L, (T+1) L]
    for b in range(B):
        n = int(VALID_LEN[b] - T)
        for h in range(H):
            kv = h // (H // HKV)
            K = np.concatenate([k[m][b, kv] for m in range(T + 1)]); V = np.concatenate([v[m][b, kv] for m in range(T + 1)])
            sc = np.where(allowed, s * (q[b, h] @ K.T), f32(-np.inf))
            l = np.log(np.exp(sc - sc.max(1, keepdims=True)).sum(1)) + sc.max(1)
            p = np.exp(sc - l[:, None])
            o = p @ V
            gi = g[b, h].copy(); gi[n:] = 0  # grad_out is ignored on invalid rows
            delta = np.sum(gi * o, axis=1)
            ds = p * (gi @ V.T - delta[:, None])
            dq[b, h] = s * (ds @ K)
            dkc[b, kv] += s * (ds.T @ q[b, h]); dvc[b, kv] += p.T @ gi
            out[b, h], lse[b, h] = o, l
        rows = slice(max(n, 0), L)  # what happens on invalid rows is this producer's business
        out[b, :, rows] = rng.standard_normal(out[b, :, rows].shape)
        lse[b, :, rows] = 123.0
        dq[b, :, rows] = rng.standard_normal(dq[b, :, rows].shape)
    dk = [dkc[:, :, m * L:(m + 1) * L].copy() for m in range(T + 1)]
    dv = [dvc[:, :, m * L:(m + 1) * L].copy() for m in range(T + 1)]
    return out, lse, dq, dk, dv


def write_outputs(grp, name, outs, invalid_rows, input_hash):
    out, lse, dq, dk, dv = outs
    for key, val in (("backend", name), ("device", "cpu"), ("dtype", "bf16"),
                     ("torch_version", "none (numpy)"), ("invalid_rows", invalid_rows)):
        grp.attrs[key] = val
    if input_hash is not None:
        grp.attrs["input_hash"] = input_hash
    write_bf16(grp, "out", out)
    grp.create_dataset("lse", data=lse.astype(np.float32))
    write_bf16(grp, "dq", dq)
    for m in range(T + 1):
        write_bf16(grp, "dk%d" % m, dk[m])
        write_bf16(grp, "dv%d" % m, dv[m])


def make_case():
    rng = np.random.default_rng(20240601)
    bf = lambda *shape: round_bf16(rng.standard_normal(shape).astype(np.float32))
    q = bf(B, H, L, D)
    k = [bf(B, HKV, L, D) for _ in range(T + 1)]
    v = [bf(B, HKV, L, D) for _ in range(T + 1)]
    g = round_bf16(0.5 * rng.standard_normal((B, H, L, D)).astype(np.float32))
    producers = [("ext", structured(q, k, v, g), "zeros"),
                 ("ext_bad", structured(q, k, v, g, own_lse_bug=True), "zeros"),
                 ("sdpa", dense(q, k, v, g, rng), "unspecified")]
    return q, k, v, g, producers


def write_inputs(f, q, k, v, g, schema):
    f.attrs["schema_version"] = np.int32(schema)
    for key, val in zip("B H Hkv L D t".split(), (B, H, HKV, L, D, T)):
        f.attrs[key] = np.int64(val)
    f.attrs["dtype"] = "bf16"
    f.attrs["scale"] = np.float64(SCALE)
    inp = f.create_group("inputs")
    write_bf16(inp, "q", q)
    for m in range(T + 1):
        write_bf16(inp, "k%d" % m, k[m])
        write_bf16(inp, "v%d" % m, v[m])
    inp.create_dataset("valid_len", data=VALID_LEN)
    write_bf16(inp, "grad_out", g)


def write_case(folder, binary):
    """A case folder as a user's own code would write one: inputs, then each producer's file
    (written under a temporary name and renamed, so a reader never sees half of it)."""
    q, k, v, g, producers = make_case()
    os.makedirs(os.path.join(folder, "outputs"), exist_ok=True)
    with h5py.File(os.path.join(folder, "inputs.h5"), "w") as f:
        write_inputs(f, q, k, v, g, 2)
    p = subprocess.run([binary, "info", folder, "--verify", "--json", "-"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("attn-harness info --verify failed: " + p.stderr)
    input_hash = json.loads(p.stdout)["input_hash"]
    for name, outs, invalid in producers:
        tmp = os.path.join(folder, "outputs", "." + name + ".h5.tmp")
        with h5py.File(tmp, "w") as f:
            write_outputs(f, name, outs, invalid, input_hash)
        os.replace(tmp, os.path.join(folder, "outputs", name + ".h5"))
    return q


def write_schema1(path):
    """The same case as one file in the earlier format: records carry no input hash."""
    q, k, v, g, producers = make_case()
    with h5py.File(path, "w") as f:
        write_inputs(f, q, k, v, g, 1)
        for name, outs, invalid in producers:
            write_outputs(f.create_group("outputs/" + name), name, outs, invalid, None)


failures = []


def check(cond, what):
    """Prints the first line of `what`; all of it (the command's output) on failure."""
    print(("ok   " + what.splitlines()[0]) if cond else ("FAIL " + what))
    if not cond:
        failures.append(what.splitlines()[0])


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--write":
        write_case(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as work:
        case = os.path.join(work, "external")
        q = write_case(case, binary)
        with h5py.File(os.path.join(case, "inputs.h5"), "r") as f:  # the bf16 layout reads back exactly through HDF5
            t = f["inputs/q"].id.get_type()
            check(t.get_size() == 2 and t.get_fields() == (15, 7, 8, 0, 7) and t.get_ebias() == 127,
                  "bf16 type: size 2, fields (15, 7, 8, 0, 7), bias 127")
            check(np.array_equal(f["inputs/q"].astype("f4")[...], q), "bf16 reads back as float32 exactly")

        rc, text = run(binary, "gate", case, "--candidate", "ext", "--junit", os.path.join(work, "j.xml"), "-q")
        check(rc == 0, "gate --candidate ext exits 0 (got %d)\n%s" % (rc, text))
        import xml.etree.ElementTree as ET
        cases = ET.parse(os.path.join(work, "j.xml")).getroot().findall("./testsuite/testcase")
        check(len(cases) == 3 + 2 * (T + 1) + 1,
              "JUnit: one testcase per tensor and one for the invalid-row check (%d)" % len(cases))

        rc, text = run(binary, "gate", case, "--candidate", "ext_bad", "-q")
        check(rc == 1, "gate --candidate ext_bad exits 1 (got %d)\n%s" % (rc, text))
        check("\n      dq: err_c" in text, "the failing lines name dq:\n" + text)

        rc, text = run(binary, "compare", case, "--candidate", "ext", "-q", "--json", os.path.join(work, "c.json"))
        check(rc == 0, "compare --candidate ext exits 0 (got %d)\n%s" % (rc, text))
        check("declares zeros: all" in text, "the zeros contract of ext holds:\n" + text)

        rc, text = run(binary, "gate", case, "--candidate", "ext", "--baseline", "missing", "-q")
        check(rc == 2 and "missing" in text, "a missing baseline under the relative profile exits 2 (got %d)" % rc)
        rc, text = run(binary, "gate", case, "--candidate", "ext", "--baseline", "missing", "--profile", "abs-bf16", "-q")
        check(rc == 2, "an explicitly named missing baseline exits 2 even under abs-bf16 (got %d)" % rc)
        rc, text = run(binary, "gate", case, "--candidate", "ext", "--profile", "abs-bf16", "--baseline", "ext", "-q")
        check(rc == 0, "abs-bf16 passes ext (got %d)\n%s" % (rc, text))

        # The earlier single-file format is still judged; its records are tied to nothing.
        old = os.path.join(work, "schema1.h5")
        write_schema1(old)
        rc, text = run(binary, "gate", old, "--candidate", "ext", "-q")
        check(rc == 0 and "schema-1" in text, "a schema-1 file is judged, with a note (got %d)\n%s" % (rc, text))
        rc, text = run(binary, "gate", old, "--candidate", "ext_bad", "-q")
        check(rc == 1, "a schema-1 file's defect is caught (got %d)\n%s" % (rc, text))
        migrated = os.path.join(work, "migrated")
        rc, text = run(binary, "migrate", old, "-o", migrated)
        check(rc == 0, "migrate exits 0 (got %d)\n%s" % (rc, text))
        rc, text = run(binary, "gate", migrated, "--candidate", "ext", "-q")
        check(rc == 0 and "schema-1" not in text, "the migrated case is current (got %d)\n%s" % (rc, text))

        # Inputs edited after the outputs were recorded: the outputs are stale, never judged.
        with h5py.File(os.path.join(case, "inputs.h5"), "a") as f:
            f.attrs["scale"] = np.float64(0.5)
        rc, text = run(binary, "gate", case, "--candidate", "ext", "-q")
        check(rc == 2 and "stale" in text and "attn-harness run" in text,
              "stale outputs are an input error naming the command that records them (got %d)\n%s" % (rc, text))
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

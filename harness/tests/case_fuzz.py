#!/usr/bin/env python3
"""Byte flips over the headers and metadata of a small case, every subcommand: attn-harness
must never crash, hang, print HDF5's own diagnostics, leave temporary files or lose a
multi-case gate's summary and JUnit file.

    case_fuzz.py BIN_DIR [--runs N] [--seed S] [--timeout SECONDS] [--torch-runs M]

BIN_DIR holds attn-harness (and attn-harness-torch, for a few `run`s). Each run copies a
pristine case (a folder: inputs.h5, reference.h5, outputs/flash.h5 and sdpa.h5; or the same
as a bundle), changes one byte (a random bit, or a random value) at a random offset outside
the datasets' raw data (the offsets h5py reports; for compressed datasets, chunk data counts
as metadata too), and runs one subcommand on it. A run passes when the command exits with 0,
1 or 2 within the time limit, and:
  - no signal killed it and its output has no "HDF5-DIAG" / "infinite loop closing library";
  - no temporary file (".*.tmp.*") is left in the case;
  - gate over [damaged case, intact case] prints its summary line, writes its JUnit file,
    and judges the intact case.
Prints a summary (runs, exit codes, failures by command) and exits 1 on any failure.
"""
import argparse
import collections
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

try:
    import h5py
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)

BAD_TEXT = ("HDF5-DIAG", "infinite loop closing library")


def raw_data_ranges(path):
    """[start, end) byte ranges of contiguous datasets' raw data in an HDF5 file."""
    ranges = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            offset = obj.id.get_offset()
            if offset is not None:
                ranges.append((offset, offset + obj.id.get_storage_size()))

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return sorted(ranges)


def metadata_offsets(path):
    """Every byte offset of `path` outside raw data (headers, B-trees, heaps, attributes)."""
    size = os.path.getsize(path)
    keep = []
    pos = 0
    for start, end in raw_data_ranges(path):
        if start > pos:
            keep.append((pos, start))
        pos = max(pos, end)
    if pos < size:
        keep.append((pos, size))
    return keep


def pick(ranges, rng):
    total = sum(e - s for s, e in ranges)
    k = rng.randrange(total)
    for s, e in ranges:
        if k < e - s:
            return s + k
        k -= e - s
    raise AssertionError


def flip(path, offset, rng):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        new = b ^ (1 << rng.randrange(8)) if rng.random() < 0.7 else rng.randrange(256)
        if new == b:
            new = b ^ 0x80
        f.seek(offset)
        f.write(bytes([new]))


def leftovers(folder):
    found = []
    for root, _, files in os.walk(folder):
        found += [os.path.join(root, n) for n in files if n.startswith(".") and ".tmp." in n]
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--runs", type=int, default=3000)
    ap.add_argument("--torch-runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    exe = os.path.join(args.bin_dir, "attn-harness")
    rng = random.Random(args.seed)
    env = dict(os.environ, ATTN_READ_TIMEOUT_S="10")
    work = tempfile.mkdtemp(prefix="attn-fuzz-")
    failures = []
    codes = collections.Counter()
    by_command = collections.Counter()
    contained = collections.Counter()  # what the child-process reader turned into messages
    start = time.time()
    try:
        base = os.path.join(work, "base")
        setup = [
            [exe, "generate", "-o", base, "--preset", "custom", "--heads", "4", "--kv-heads", "2",
             "--head-dim", "16", "--seq", "24", "--ttt-step", "2", "--batch", "2", "--pad", "0,5",
             "-q"],
            [exe, "reference", base, "-q"],
            [exe, "run", base, "--backend", "flash,sdpa", "-q"],
            [exe, "pack", base, "-o", os.path.join(work, "base.h5")],
        ]
        for cmd in setup:
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print("setup failed:", " ".join(cmd), r.stdout, r.stderr)
                return 1
        intact = os.path.join(work, "intact")
        shutil.copytree(base, intact)
        files = {"inputs.h5": metadata_offsets(os.path.join(base, "inputs.h5")),
                 "reference.h5": metadata_offsets(os.path.join(base, "reference.h5")),
                 "outputs/flash.h5": metadata_offsets(os.path.join(base, "outputs", "flash.h5")),
                 "outputs/sdpa.h5": metadata_offsets(os.path.join(base, "outputs", "sdpa.h5"))}
        bundle_meta = metadata_offsets(os.path.join(work, "base.h5"))

        def commands(case):
            junit = os.path.join(work, "j.xml")
            return [
                ("info", [exe, "info", case]),
                ("info --verify", [exe, "info", case, "--verify", "--json", "-"]),
                ("reference", [exe, "reference", case, "-q"]),
                ("compare", [exe, "compare", case, "--candidate", "flash", "-q"]),
                ("gate", [exe, "gate", case, intact, "--candidate", "flash", "-q", "--junit", junit]),
                ("inspect --at", [exe, "inspect", case, "--tensor", "dq", "--at", "1,3,7,5", "-q"]),
                ("inspect --worst", [exe, "inspect", case, "--tensor", "dk0", "--worst", "3", "-q"]),
                ("pack", [exe, "pack", case, "-o", os.path.join(work, "out.h5")]),
                ("unpack", [exe, "unpack", case, "-o", os.path.join(work, "unpacked")]),
            ], junit

        total = args.runs + args.torch_runs
        for i in range(total):
            use_bundle = rng.random() < 0.2
            case = os.path.join(work, "case" + (".h5" if use_bundle else ""))
            if os.path.isdir(case):
                shutil.rmtree(case)
            for stale in ("out.h5", "unpacked", "j.xml"):
                p = os.path.join(work, stale)
                if os.path.isdir(p):
                    shutil.rmtree(p)
                elif os.path.exists(p):
                    os.unlink(p)
            if use_bundle:
                shutil.copy(os.path.join(work, "base.h5"), case)
                target = case
                offset = pick(bundle_meta, rng)
                where = "bundle"
            else:
                shutil.copytree(base, case)
                where = rng.choice(sorted(files))
                target = os.path.join(case, where)
                offset = pick(files[where], rng)
            flip(target, offset, rng)
            cmds, junit = commands(case)
            if i >= args.runs:  # a few runs of the LibTorch binary's reader
                name, cmd = "run", [exe, "run", case, "--backend", "flash", "--as", "again", "-q"]
            else:
                name, cmd = rng.choice(cmds)
            t0 = time.time()
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env,
                                   errors="replace")
                rc, out = r.returncode, r.stdout + r.stderr
            except subprocess.TimeoutExpired:
                rc, out = "timeout", ""
            took = time.time() - t0
            codes[rc] += 1
            by_command[name] += 1
            if "crashed reading it" in out:
                contained["HDF5 crashes"] += 1
            if "no answer within" in out:
                contained["HDF5 hangs"] += 1
            problem = None
            if rc == "timeout":
                problem = f"no exit within {args.timeout} s"
            elif rc not in (0, 1, 2):
                problem = f"exit status {rc}" + (" (killed by a signal)" if rc < 0 else "")
            elif any(t in out for t in BAD_TEXT):
                problem = "HDF5's own diagnostics on the output"
            elif leftovers(case if not use_bundle else work):
                problem = "temporary files left: " + ", ".join(leftovers(case if not use_bundle else work))
            elif name == "gate":
                if "gate " not in out.splitlines()[-1] if out.strip() else True:
                    problem = "no summary line"
                elif not os.path.exists(junit):
                    problem = "no JUnit file"
                else:
                    suites = ET.parse(junit).getroot().findall("testsuite")
                    if len(suites) != 2:
                        problem = f"JUnit has {len(suites)} suites, expected 2"
                    elif "PASS  " + intact not in out:
                        problem = "the intact case was not judged PASS"
            if problem:
                failures.append(f"{name} on {where} byte {offset}: {problem} ({took:.1f} s)\n    {' '.join(cmd)}\n"
                                + "\n".join("    | " + ln for ln in out.splitlines()[-6:]))
            if (i + 1) % 250 == 0:
                print(f"  {i + 1}/{total} runs, {len(failures)} failures, {time.time() - start:.0f} s",
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{sum(codes.values())} runs in {time.time() - start:.0f} s; exit codes "
          + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=str)))
    print("runs per command: " + ", ".join(f"{k} {v}" for k, v in sorted(by_command.items())))
    print("contained in the reader's child process (reported as damaged files): "
          + (", ".join(f"{k} {v}" for k, v in sorted(contained.items())) or "none"))
    for f in failures[:30]:
        print("FAIL", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

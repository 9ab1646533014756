#!/usr/bin/env python3
"""ctest attn_bench_cpu_smoke: a tiny CPU grid of attn-bench, its JSON checked, then read by
`attn-harness report`. Usage: ATTN_BENCH=... ATTN_HARNESS=... check_bench.py WORKDIR"""
import json
import os
import re
import shutil
import subprocess
import sys


def fail(msg):
    print(f"check_bench: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def base_name(name):
    name = re.sub(r"_(mean|median|stddev|cv|min|max)$", "", name)
    return re.sub(r"(/(iterations|repeats):\d+|/manual_time|/real_time)+$", "", name)


def main():
    work = sys.argv[1]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    out = os.path.join(work, "bench.json")
    backends = ("flash", "flash-fa2", "floor", "floor-fa2", "floor-cudnn", "floor-sdpa", "sdpa")
    cmd = [os.environ["ATTN_BENCH"], "--device", "cpu", "--presets", "tiny", "--seqs", "128",
           "--ttt", "1,2", "--backends", ",".join(backends), "--workloads", "train_step,fwd,bwd",
           "--iterations", "1", "--warmup", "1", "--commit", "smoke",
           f"--benchmark_out={out}", "--benchmark_out_format=json", "--benchmark_repetitions=2"]
    print(" ".join(cmd))
    r = subprocess.run(cmd)
    if r.returncode != 0:
        fail(f"attn-bench exited {r.returncode}")
    doc = json.load(open(out))
    ctx = doc["context"]
    for key in ("device", "torch_version", "commit", "gemm_bf16_tflops"):
        if key not in ctx:
            fail(f"context has no {key}")
    if ctx["commit"] != "smoke" or ctx["device"] != "cpu" or float(ctx["gemm_bf16_tflops"]) <= 0:
        fail(f"context: {ctx}")
    expected = {f"{w}/{b}/tiny/L:128/T:{t}" for w in ("train_step", "fwd", "bwd")
                for b in backends for t in (1, 2)}
    seen = {}
    for e in doc["benchmarks"]:
        seen.setdefault(base_name(e["name"]), []).append(e)
    if set(seen) != expected:
        fail(f"names: missing {sorted(expected - set(seen))}, unexpected {sorted(set(seen) - expected)}")
    for name, entries in seen.items():
        its = [e for e in entries if e.get("run_type") == "iteration"]
        aggs = {e.get("aggregate_name") for e in entries if e.get("run_type") == "aggregate"}
        if len(its) != 2:
            fail(f"{name}: {len(its)} repetitions, expected 2")
        if name.split("/")[1] != "floor-cudnn" and not {"mean", "median", "stddev"} <= aggs:
            fail(f"{name}: aggregates {aggs}")
        backend = name.split("/")[1]
        for e in its:
            if backend == "floor-cudnn":
                # No cuDNN attention on the CPU: an "unsupported" entry, which the report counts.
                if not e.get("error_occurred") or not e.get("error_message", "").startswith("unsupported"):
                    fail(f"{name}: expected an 'unsupported' entry, got {e}")
                continue
            if e.get("error_occurred"):
                fail(f"{name}: error {e.get('error_message')}")
            # The label names the kernels that ran.
            label = e.get("label", "")
            want = "sdpa backend=" if backend == "floor-sdpa" else "block0=cpu-flash" if backend != "sdpa" else ""
            if want and not label.startswith(want):
                fail(f"{name}: label {label!r} does not start with {want!r}")
            if e["time_unit"] != "ms" or not e["real_time"] > 0:
                fail(f"{name}: time {e['real_time']} {e['time_unit']}")
            # peak_mem_GiB: CUDA only (caching-allocator statistics)
            for c in ("TFLOPS", "gemm_TFLOPS", "pct_of_gemm", "B", "H", "Hkv", "D", "L", "T"):
                if c not in e:
                    fail(f"{name}: no counter {c}")
            if not e["TFLOPS"] > 0 or e["L"] != 128 or e["H"] != 2 or e["Hkv"] != 1 or e["D"] != 64:
                fail(f"{name}: counters {e}")
            if e["T"] != int(name.rsplit(":", 1)[1]):
                fail(f"{name}: T counter {e['T']}")
    rep = os.path.join(work, "report")
    r = subprocess.run([os.environ["ATTN_HARNESS"], "report", out, "-o", rep, "--no-charts"])
    if r.returncode != 0:
        fail(f"attn-harness report exited {r.returncode}")
    if "NaN" in open(out).read():
        fail("NaN in the JSON")
    if not os.path.exists(os.path.join(rep, "report.md")):
        fail("no report.md")
    print(f"check_bench: OK ({len(seen)} benchmarks)")


if __name__ == "__main__":
    main()

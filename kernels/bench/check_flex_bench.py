#!/usr/bin/env python3
"""ctest attn_bench_flex_cpu_smoke: flex_adapter.py bench on the CPU (tiny preset): fwd runs,
train_step, bwd and the padded training step are "unsupported" entries (torch flex on the CPU
is forward-only), the padded one with its batch of 2 sequences; the file is Google Benchmark
JSON. Then a shard as nightly_bench.sh runs it (--shard 2/4 --groups tiny:fwd): only that group,
the file labelled shard 2/4. Usage: check_flex_bench.py FLEX_ADAPTER WORKDIR"""
import json
import os
import subprocess
import sys


def fail(msg):
    print(f"check_flex_bench: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


adapter, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
out = os.path.join(work, "flex.json")
r = subprocess.run([sys.executable, adapter, "bench", "--device", "cpu", "--presets", "tiny", "--seqs", "128",
                    "--ttt", "1,2", "--workloads", "train_step,fwd,bwd,train_step_padded", "--reps", "2", "--iterations", "1",
                    "--commit", "smoke", "--out", out])
if r.returncode != 0:
    fail(f"flex_adapter.py bench exited {r.returncode}")
doc = json.load(open(out))
for key in ("device", "torch_version", "commit", "gemm_bf16_tflops"):
    if key not in doc["context"]:
        fail(f"context has no {key}")
by_name = {}
for e in doc["benchmarks"]:
    by_name.setdefault(e["run_name"], []).append(e)
for w in ("train_step", "fwd", "bwd", "train_step_padded"):
    for t in (1, 2):
        name = f"{w}/flex/tiny/L:128/T:{t}"
        entries = by_name.get(name)
        if not entries:
            fail(f"no {name}")
        if w == "fwd":
            its = [e for e in entries if e["run_type"] == "iteration"]
            aggs = {e.get("aggregate_name") for e in entries if e["run_type"] == "aggregate"}
            if len(its) != 2 or aggs != {"mean", "median", "stddev"}:
                fail(f"{name}: {len(its)} repetitions, aggregates {aggs}")
            for e in its:
                if e.get("error_occurred") or not e["real_time"] > 0 or "compile_s" not in e or not e["TFLOPS"] > 0:
                    fail(f"{name}: {e}")
        elif not all(e.get("error_occurred") and e["error_message"].startswith("unsupported") for e in entries):
            fail(f"{name}: expected unsupported entries, found {entries}")
        if w == "train_step_padded" and not all(e["B"] == 2 for e in entries):
            fail(f"{name}: expected B 2 (a full and a right-padded sequence), found {[e['B'] for e in entries]}")

# One job of a sharded night: exactly the groups given, recorded as the shard named.
out = os.path.join(work, "flex.shard-2-of-4.json")
r = subprocess.run([sys.executable, adapter, "bench", "--device", "cpu", "--presets", "tiny", "--seqs", "128",
                    "--ttt", "1", "--workloads", "train_step,fwd", "--reps", "2", "--iterations", "1",
                    "--commit", "smoke", "--shard", "2/4", "--groups", "tiny:fwd", "--out", out])
if r.returncode != 0:
    fail(f"flex_adapter.py bench --shard 2/4 --groups tiny:fwd exited {r.returncode}")
doc = json.load(open(out))
if doc["context"].get("shard") != "2/4":
    fail(f"--shard 2/4 --groups: context shard {doc['context'].get('shard')!r}, expected '2/4'")
names = {e["run_name"] for e in doc["benchmarks"]}
if names != {"fwd/flex/tiny/L:128/T:1"}:
    fail(f"--groups tiny:fwd: expected only fwd/flex/tiny/L:128/T:1, found {sorted(names)}")
print("check_flex_bench: OK")

"""The nightly pairing of attn-bench's and flex's shards (scripts/nightly_bench.sh): for n = 3 and
4, the (preset, workload) groups of `attn-bench --shard i/n --list`, given to `flex_adapter.py
bench --shard i/n --groups`, select flex benchmarks whose same-shape control floor-sdpa is in
attn-bench's shard i (the same job), and over i = 1..n every flex benchmark of the grid runs
exactly once. Bad --groups exit 2 naming what was expected.
Usage: check_shard_pairing.py ATTN_BENCH FLEX_ADAPTER"""
import subprocess
import sys

ATTN_BENCH, ADAPTER = sys.argv[1:3]
PRESETS = "llama3-8b-mha,llama3-8b,qwen3-30b-a3b,gpt-oss-20b"
WORKLOADS = "train_step,fwd,bwd,train_step_padded"
FLEX_GRID = ["--presets", PRESETS, "--ttt", "1,3,7", "--workloads", WORKLOADS]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def names(stdout):
    return [line.split("\t")[0] for line in stdout.splitlines() if line.strip()]


def shape(name):  # train_step/flex/llama3-8b/L:1024/T:1 -> (train_step, llama3-8b, L:1024, T:1)
    p = name.split("/")
    return (p[0], p[2], p[3], p[4])


failures = []
rc, out, err = run([sys.executable, ADAPTER, "bench", "--list", *FLEX_GRID])
assert rc == 0, err
whole_flex = set(names(out))
assert len(whole_flex) == 4 * 4 * 3 * 6, f"expected 288 flex benchmarks, found {len(whole_flex)}"
for n in (3, 4):
    seen = {}
    for i in range(1, n + 1):
        rc, out, err = run([ATTN_BENCH, "--backends", "sdpa,flash,floor,floor-sdpa", "--shard", f"{i}/{n}", "--list"])
        assert rc == 0, f"attn-bench --shard {i}/{n}: exit {rc}: {err}"
        bench = names(out)
        controls = {shape(x) for x in bench if x.split("/")[1] == "floor-sdpa"}
        groups = sorted({f"{x.split('/')[2]}:{x.split('/')[0]}" for x in bench})
        rc, out, err = run([sys.executable, ADAPTER, "bench", "--list", *FLEX_GRID, "--shard", f"{i}/{n}",
                            "--groups", ",".join(groups)])
        if rc != 0:
            failures.append(f"flex --shard {i}/{n} --groups: exit {rc}: {err.strip()}")
            continue
        flex = names(out)
        if not flex:
            failures.append(f"n = {n}: flex has no benchmarks in shard {i}")
        for x in flex:
            seen[x] = seen.get(x, 0) + 1
            if shape(x) not in controls:
                failures.append(f"n = {n}: {x} runs in job {i}, its control floor-sdpa does not")
        if f"shard {i}/{n}: the {len(groups)} (preset, workload) groups of --groups" not in err:
            failures.append(f"flex --groups: stderr does not name the shard and its groups: {err.strip()}")
    if set(seen) != whole_flex or any(c != 1 for c in seen.values()):
        failures.append(f"n = {n}: flex benchmarks missing or doubled across the jobs")

for bad, expect in (("llama3-8b", "expected PRESET:WORKLOAD"), ("nope:fwd", "found 'nope:fwd'"),
                    ("llama3-8b:sideways", "found 'llama3-8b:sideways'")):
    rc, out, err = run([sys.executable, ADAPTER, "bench", "--list", *FLEX_GRID, "--groups", bad])
    if rc != 2 or expect not in err:
        failures.append(f"--groups {bad}: expected exit 2 and '{expect}', found exit {rc}: {err.strip()}")

print("\n".join(failures) if failures else
      "shard pairing: n = 3, 4: every flex benchmark once, in the job of its control floor-sdpa")
sys.exit(1 if failures else 0)

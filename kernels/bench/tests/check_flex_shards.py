"""The flex sweep's shards (flex_adapter.py bench --shard i/n --list): for n = 1, 2, 5, 12 every
benchmark of the whole grid is in exactly one shard, a (preset, workload) group is never split,
the largest shard is at most the mean plus the largest group, and bad --shard values exit 2
naming what was expected. Usage: check_flex_shards.py FLEX_ADAPTER"""
import collections
import subprocess
import sys

ADAPTER = sys.argv[1]
GRID = ["--presets", "llama3-8b-mha,llama3-8b,qwen3-30b-a3b,gpt-oss-20b", "--ttt", "1,3,7",
        "--workloads", "train_step,fwd,bwd"]


def listing(*extra):
    r = subprocess.run([sys.executable, ADAPTER, "bench", "--list", *GRID, *extra],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def parse(stdout):
    rows = {}
    for line in stdout.splitlines():
        name, est = line.split("\t")
        rows[name] = float(est)
    return rows


def group(name):  # train_step/flex/llama3-8b/L:1024/T:1 -> (llama3-8b, train_step)
    parts = name.split("/")
    return parts[2], parts[0]


failures = []
rc, out, err = listing()
assert rc == 0, err
whole = parse(out)
assert len(whole) == 4 * 3 * 3 * 6, f"expected 216 benchmarks in the whole grid, found {len(whole)}"
group_cost = collections.defaultdict(float)
for name, est in whole.items():
    assert est > 0, name
    group_cost[group(name)] += est
for n in (1, 2, 5, 12):  # each listing imports torch (~2 s): a few n, the extremes included
    seen = collections.Counter()
    loads = []
    for i in range(1, n + 1):
        rc, out, err = listing("--shard", f"{i}/{n}")
        assert rc == 0, f"--shard {i}/{n}: exit {rc}: {err}"
        rows = parse(out)
        if not rows:
            failures.append(f"--shard {i}/{n} is empty")
        for name, est in rows.items():
            seen[name] += 1
            if abs(est - whole[name]) > 1e-9:
                failures.append(f"{name}: estimate {est} in shard {i}/{n}, {whole[name]} unsharded")
        groups = {group(x) for x in rows}
        for g in groups:  # a group is whole in the shard that has it
            members = [x for x in whole if group(x) == g]
            if any(x not in rows for x in members):
                failures.append(f"group {g} split in --shard {i}/{n}")
        loads.append(sum(group_cost[g] for g in groups))
    if set(seen) != set(whole) or any(c != 1 for c in seen.values()):
        failures.append(f"n = {n}: benchmarks missing or doubled across the shards")
    mean = sum(loads) / n
    if max(loads) > mean + max(group_cost.values()) + 1e-6:
        failures.append(f"n = {n}: largest shard {max(loads):.1f} s > mean {mean:.1f} + largest group")

for bad, expect in (("0/4", "numbered from 1"), ("5/4", "1 <= i <= n"), ("a/b", "two positive integers"),
                    ("13/13", "expected at most 12 shards")):
    rc, out, err = listing("--shard", bad)
    if rc != 2 or expect not in err:
        failures.append(f"--shard {bad}: expected exit 2 and '{expect}', found exit {rc}: {err.strip()}")

print("\n".join(failures) if failures else "flex shards: 216 benchmarks, n = 1, 2, 5, 12: each in exactly one shard")
sys.exit(1 if failures else 0)

#!/usr/bin/env bash
# ctest nightly_bench_sharded_cpu: scripts/nightly_bench.sh as two shards of a tiny CPU grid. Each
# job runs attn-bench's whole (workload, preset) groups and flex over exactly those groups, the
# files labelled with the shard; merged, the report controls flex's forward by the floor-sdpa of
# its own job. Usage: nightly_bench_cpu_test.sh BUILD_DIR ROOT PYTHON
set -u
build=$1 root=$2
export ATTN_PYTHON=$3
. "$root/harness/tests/check_lib.sh"
night=$work/night
for i in 1 2; do
  expect 0 "shard $i/2" -- env SHARD=$i/2 TIME_TO_VERDICT_REPEAT=0 \
    BENCH_ARGS="--device cpu --presets tiny --seqs 128 --ttt 1 --reps 2" \
    FLEX_ARGS="--device cpu --presets tiny --seqs 128 --ttt 1 --workloads train_step,fwd,bwd,train_step_padded --reps 2 --iterations 1" \
    bash "$root/scripts/nightly_bench.sh" "$night" "$build"
done
pycheck "each job: attn-bench's groups, flex over the same groups, both labelled with the shard" '
import json, sys
night = sys.argv[1]
seen = []
for i in (1, 2):
    a = json.load(open(f"{night}/attn_bench.shard-{i}-of-2.json"))
    f = json.load(open(f"{night}/flex.shard-{i}-of-2.json"))
    groups = lambda doc: {(b["run_name"].split("/")[0], b["run_name"].split("/")[2]) for b in doc["benchmarks"]}
    assert a["context"]["shard"] == f["context"]["shard"] == f"{i}/2", (a["context"].get("shard"), f["context"].get("shard"))
    assert groups(a) == groups(f) and groups(a), (i, groups(a), groups(f))
    seen += sorted(groups(f))
assert len(seen) == len(set(seen)) == 4, seen
' "$night"
expect 0 "report over both shards, compared with itself" -- "$build/attn-harness" report "$night"/attn_bench.shard-*.json \
  "$night"/flex.shard-*.json --previous "$(ls "$night"/attn_bench.shard-*.json "$night"/flex.shard-*.json | paste -sd, -)" \
  -o "$work/report" --no-charts
contains "$work/err" "report: read 20 benchmarks: 17 ok, 3 unsupported from 4 file(s)" "both jobs read: 16 attn-bench benchmarks, 4 flex (3 unsupported on the CPU)"
lacks "$work/err" "shards missing" "no shard missing"
contains "$work/report/changes.csv" "^fwd/flex/tiny/L:128/T:1,.*,floor-sdpa," "flex controlled by the floor-sdpa of its own job"
checks_done

#!/usr/bin/env bash
# The nightly performance run on a CUDA machine: attn-bench over its grid (sdpa, flash, floor;
# training step, forward, backward and padded batches), flex over the same grid through
# kernels/flex/flex_adapter.py bench, the harness's own time to a verdict
# (scripts/time_to_verdict.py), then the report where gnuplot is installed (otherwise the
# command that makes it is printed). docs/benchmarks.md, "The nightly run".
# Usage: scripts/nightly_bench.sh OUT_DIR [BUILD_DIR]
# Environment:
#   SHARD         i/n: run only shard i of n: attn-bench --shard i/n (whole (workload, preset)
#                 groups), then flex over the same groups (--groups, from attn-bench --list), so
#                 that every benchmark's same-shape control floor-sdpa runs in its job; files are
#                 named *.shard-<i>-of-<n>.json and the report is left to the merge:
#                 attn-harness report OUT_DIR/*.json -o OUT_DIR/report (every shard's files in
#                 one folder). n <= 16 (the grid's 16 groups); 4 fits 10-minute jobs on an H200
#                 with room (docs/benchmarks.md, "Sharding the nightly run").
#   BENCH_BACKENDS  attn-bench's backends, default sdpa,flash,floor,floor-sdpa (floor-sdpa: the
#                 same-shape control by which `report --previous` compares nights)
#   BENCH_ARGS    extra attn-bench flags (grid selection), default: the full grid
#   FLEX_ARGS     flex flags instead of the full grid (--presets, --ttt, --workloads, --seqs)
#   NIGHTLY_DEADLINE_S  seconds from the start by which flex starts no new benchmark
#   PREVIOUS      an earlier run's JSON files (comma-separated) for the report's change table
#                 (its time_to_verdict.json among them: the harness's speed is compared too)
#   NOISE         a noise file (attn-harness perf-noise) for the change table
#   TIME_TO_VERDICT_REPEAT  repetitions of the time to a verdict (default 3; 0: not measured);
#                 measured in an unsharded run and in shard 1 of a sharded one
#   ATTN_COMMIT   the commit recorded in the results (default: git rev-parse of this tree)
# Writes OUT_DIR/timing<suffix>.txt: the seconds each part took (one "name seconds" per line).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
build=${2:-$root/build-gpu}
mkdir -p "$out"
script_start=$(date +%s)
# Stopped (INT, TERM: the job's time limit), it stops attn-bench, flex or the timing it started,
# so that nothing keeps running on the GPU after the job.
. "$root/scripts/stop_on_signal.sh"
python=${ATTN_PYTHON:-python3}
commit=${ATTN_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
shard_args=()
flex_shard_args=()
suffix=""
if [ -n "${SHARD:-}" ]; then
  if ! [[ "$SHARD" =~ ^[0-9]+/[0-9]+$ ]]; then
    echo "SHARD: expected i/n such as 2/4, found '$SHARD'" >&2; exit 2
  fi
  shard_args=(--shard "$SHARD")
  suffix=".shard-${SHARD%/*}-of-${SHARD#*/}"
fi
bench_backends=${BENCH_BACKENDS:-sdpa,flash,floor,floor-sdpa}
timing="$out/timing$suffix.txt"
: >"$timing"
[ -x "$build/kernels/bench/attn-bench" ] || bash "$root/scripts/build_cuda.sh" "$build" "$out" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$out/gpu.txt" 2>&1

start=$(date +%s)
# shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
waited "$build/kernels/bench/attn-bench" --commit "$commit" --backends "$bench_backends" \
  "${shard_args[@]}" ${BENCH_ARGS:-} \
  --benchmark_out="$out/attn_bench$suffix.json" --benchmark_out_format=json \
  >"$out/attn_bench$suffix.log" 2>&1
rc=$?
echo "attn-bench rc=$rc in $(( $(date +%s) - start )) s" >&2
echo "attn_bench $(( $(date +%s) - start ))" >>"$timing"

# flex over the whole grid in one process (its graphs compile once per (preset, workload) and are
# reused for every T and L). NIGHTLY_DEADLINE_S (seconds from the start of this script; 0: none)
# sets --budget-s from the time left, keeping 60 s for the benchmark running at the deadline.
budget=0
if [ "${NIGHTLY_DEADLINE_S:-0}" -gt 0 ]; then
  budget=$(( NIGHTLY_DEADLINE_S - ($(date +%s) - script_start) - 60 ))
  [ "$budget" -gt 0 ] || budget=1  # no time left: every flex benchmark is recorded as skipped
fi
flex_grid=(--presets llama3-8b-mha,llama3-8b,qwen3-30b-a3b,gpt-oss-20b --ttt 1,3,7
           --workloads train_step,fwd,bwd,train_step_padded)
# shellcheck disable=SC2206  # FLEX_ARGS is a list of flags
[ -n "${FLEX_ARGS:-}" ] && flex_grid=($FLEX_ARGS)
if [ -n "$suffix" ]; then
  # attn-bench's shard as (preset, workload) groups: flex runs exactly those in this job.
  # shellcheck disable=SC2086
  groups=$("$build/kernels/bench/attn-bench" --backends "$bench_backends" "${shard_args[@]}" ${BENCH_ARGS:-} --list \
             2>/dev/null | awk -F'\t' '{split($1, p, "/"); print p[3] ":" p[1]}' | sort -u | paste -sd, -) ||
    { echo "attn-bench --shard $SHARD --list failed: flex cannot follow its groups" >&2; exit 1; }
  [ -n "$groups" ] || echo "attn-bench's shard $SHARD has no (preset, workload) group: flex runs nothing" >&2
  flex_shard_args=(--shard "$SHARD" --groups "$groups")
fi
start=$(date +%s)
waited "$python" "$root/kernels/flex/flex_adapter.py" bench "${flex_grid[@]}" "${flex_shard_args[@]}" \
  --commit "$commit" --budget-s "$budget" --out "$out/flex$suffix.json" >"$out/flex$suffix.log" 2>&1
echo "flex rc=$? in $(( $(date +%s) - start )) s" >&2
echo "flex $(( $(date +%s) - start ))" >>"$timing"

# The harness's own speed on the default realistic case (llama3-8b, L 4096, B 2, t 6, one
# sequence padded; sdpa and flash on CUDA, then the gate): about 14 s a repetition on the H200.
ttv_repeat=${TIME_TO_VERDICT_REPEAT:-3}
[ -n "$suffix" ] && [ "${SHARD%/*}" != 1 ] && ttv_repeat=0
harness_timing=()
if [ "$ttv_repeat" -gt 0 ]; then
  start=$(date +%s)
  waited "$python" "$root/scripts/time_to_verdict.py" "$build" "$out/time_to_verdict_work" --device cuda \
    --repeat "$ttv_repeat" --json "$out/time_to_verdict.json" >"$out/time_to_verdict.log" 2>&1
  echo "time to a verdict rc=$? in $(( $(date +%s) - start )) s" >&2
  echo "time_to_verdict $(( $(date +%s) - start ))" >>"$timing"
  rm -rf "$out/time_to_verdict_work"
  [ -s "$out/time_to_verdict.json" ] && harness_timing=(--harness-timing "$out/time_to_verdict.json")
fi
echo "total $(( $(date +%s) - script_start ))" >>"$timing"

if [ -n "$suffix" ]; then
  echo "shard $SHARD done; when every shard's files are in one folder: attn-harness report" \
       "DIR/attn_bench.shard-*.json DIR/flex.shard-*.json --harness-timing DIR/time_to_verdict.json -o DIR/report" >&2
  exit 0
fi
report=("$build/attn-harness" report "$out/attn_bench.json" "$out/flex.json" "${harness_timing[@]}" -o "$out/report")
[ -n "${PREVIOUS:-}" ] && report+=(--previous "$PREVIOUS")
[ -n "${NOISE:-}" ] && report+=(--noise "$NOISE")
if command -v gnuplot >/dev/null; then
  "${report[@]}"
else
  echo "gnuplot is not installed here; make the report elsewhere with: attn-harness report" \
       "attn_bench.json flex.json --harness-timing time_to_verdict.json -o report" >&2
fi

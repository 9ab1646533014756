#!/usr/bin/env bash
# The nightly performance run on a CUDA machine: attn-bench over its grid (sdpa, flash, floor),
# flex through kernels/flex/flex_adapter.py bench in the same session, then the report where
# gnuplot is installed (otherwise the command that makes it is printed).
# Usage: scripts/nightly_bench.sh OUT_DIR [BUILD_DIR]
# Environment:
#   BENCH_ARGS    extra attn-bench flags (grid selection), default: the full grid
#   FLEX_ARGS     one flex sweep with these flags instead of the default sweeps below
#   NIGHTLY_DEADLINE_S  seconds from the start by which flex starts no new benchmark
#   PREVIOUS      an earlier run's merged JSON for the report's change table
#   ATTN_COMMIT   the commit recorded in the results (default: git rev-parse of this tree)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
build=${2:-$root/build-gpu}
mkdir -p "$out"
script_start=$(date +%s)
python=${ATTN_PYTHON:-python3}
commit=${ATTN_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
[ -x "$build/kernels/bench/attn-bench" ] || bash "$root/scripts/build_cuda.sh" "$build" "$out" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$out/gpu.txt" 2>&1

start=$(date +%s)
# shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
"$build/kernels/bench/attn-bench" --commit "$commit" ${BENCH_ARGS:-} \
  --benchmark_out="$out/attn_bench.json" --benchmark_out_format=json >"$out/attn_bench.log" 2>&1
echo "attn-bench rc=$? in $(( $(date +%s) - start )) s" >&2

# flex in three sweeps: the reference preset's training step over T 1, 3, 7, its single-step
# workloads at T = 7, then the GQA presets' training step at T = 7. (The C++ grid's fwd / bwd at T 1 and 3 and the GQA
# presets at T 1 and 3 are left to attn-bench: flex compiles per preset and the sweep has a
# time budget.) NIGHTLY_DEADLINE_S (seconds from the start of this script; 0: none) sets each
# sweep's --budget-s from the time left, keeping 60 s for the benchmark running at the deadline.
flex_sweep() {  # NAME ARGS...
  local name=$1; shift
  local budget=0
  if [ "${NIGHTLY_DEADLINE_S:-0}" -gt 0 ]; then
    budget=$(( NIGHTLY_DEADLINE_S - ($(date +%s) - script_start) - 60 ))
    [ "$budget" -gt 0 ] || { echo "flex $name: no time left before the deadline" >&2; return; }
  fi
  local t=$(date +%s)
  "$python" "$root/kernels/flex/flex_adapter.py" bench "$@" --commit "$commit" \
    --budget-s "$budget" --out "$out/$name.json" >"$out/$name.log" 2>&1
  echo "flex $name rc=$? in $(( $(date +%s) - t )) s" >&2
}
# shellcheck disable=SC2086  # FLEX_ARGS is a list of flags
if [ -n "${FLEX_ARGS:-}" ]; then
  flex_sweep flex_bench $FLEX_ARGS
else
  flex_sweep flex_mha --presets llama3-8b-mha --ttt 1,3,7 --workloads train_step
  flex_sweep flex_mha_step --presets llama3-8b-mha --ttt 7 --workloads fwd,bwd
  flex_sweep flex_gqa --presets llama3-8b,qwen3-30b-a3b,gpt-oss-20b --ttt 7 --workloads train_step
fi
flex_files=()
for f in "$out"/flex_*.json; do [ -e "$f" ] && flex_files+=("$f"); done

report=("$build/attn-harness" report "$out/attn_bench.json" "${flex_files[@]}" -o "$out/report")
[ -n "${PREVIOUS:-}" ] && report+=(--previous "$PREVIOUS")
if command -v gnuplot >/dev/null; then
  "${report[@]}"
else
  echo "gnuplot is not installed here; make the report elsewhere with: attn-harness report" \
       "attn_bench.json flex_*.json -o report" >&2
fi

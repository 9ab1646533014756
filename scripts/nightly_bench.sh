#!/usr/bin/env bash
# The nightly performance run on a CUDA machine: attn-bench over its grid (sdpa, flash, floor),
# flex through kernels/flex/flex_adapter.py bench in the same session, then the report where
# gnuplot is installed (otherwise the command that makes it is printed).
# Usage: scripts/nightly_bench.sh OUT_DIR [BUILD_DIR]
# Environment:
#   BENCH_ARGS    extra attn-bench flags (grid selection), default: the full grid
#   FLEX_ARGS     flex grid flags, default: see below
#   FLEX_BUDGET_S flex starts no new benchmark after this many seconds (default 330)
#   PREVIOUS      an earlier run's merged JSON for the report's change table
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$1
build=${2:-$root/build-gpu}
mkdir -p "$out"
python=${ATTN_PYTHON:-python3}
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -x "$build/kernels/bench/attn-bench" ] || bash "$root/scripts/build_cuda.sh" "$build" "$out" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$out/gpu.txt" 2>&1

start=$(date +%s)
# shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
"$build/kernels/bench/attn-bench" --commit "$commit" ${BENCH_ARGS:-} \
  --benchmark_out="$out/attn_bench.json" --benchmark_out_format=json >"$out/attn_bench.log" 2>&1
echo "attn-bench rc=$? in $(( $(date +%s) - start )) s" >&2

# flex: every preset at T = 7 (the headline T) for the training step, T = 1 and 3 for the
# reference preset; torch.compile per shape makes the full flex grid too slow for one session.
start=$(date +%s)
flex_args=${FLEX_ARGS:---presets llama3-8b-mha,llama3-8b,qwen3-30b-a3b,gpt-oss-20b --ttt 7 --workloads train_step}
# shellcheck disable=SC2086
"$python" "$root/kernels/flex/flex_adapter.py" bench $flex_args --commit "$commit" \
  --budget-s "${FLEX_BUDGET_S:-330}" --out "$out/flex_bench.json" >"$out/flex_bench.log" 2>&1
echo "flex bench rc=$? in $(( $(date +%s) - start )) s" >&2

report=("$build/attn-harness" report "$out/attn_bench.json" "$out/flex_bench.json" -o "$out/report")
[ -n "${PREVIOUS:-}" ] && report+=(--previous "$PREVIOUS")
if command -v gnuplot >/dev/null; then
  "${report[@]}"
else
  echo "gnuplot is not installed here; make the report elsewhere with: attn-harness report" \
       "attn_bench.json flex_bench.json -o report" >&2
fi

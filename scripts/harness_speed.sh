#!/usr/bin/env bash
# The harness's own speed on a GPU host, as the nightly job tracks it: the time to a verdict on
# a realistic case (llama3-8b, L 4096, B 2, t 6, one sequence padded: generate, reference, run
# sdpa and flash on CUDA, gate), the fp64 reference's GFLOP/s beside the same run's Eigen GEMM,
# and a reviewer's question at L 32768 (generate, record flash, inspect one element of dq and
# one of dk0). JSON and logs go to OUT_DIR.
# Usage: scripts/harness_speed.sh BUILD_DIR OUT_DIR [DEVICE]   (DEVICE: cuda (default) or cpu)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$1
out=$2
device=${3:-cuda}
work=${ATTN_WORK:-/tmp/attn-harness-speed}
mkdir -p "$out" "$work"
py=${ATTN_PYTHON:-python3}
echo "== time to a verdict: llama3-8b L 4096 B 2 t 6 ($device)"
"$py" "$root/scripts/time_to_verdict.py" "$build" "$work" --seq 4096 --batch 2 --ttt-step 6 \
  --pad 0,512 --device "$device" --json "$out/time_to_verdict_L4096.json" 2>"$out/time_to_verdict_L4096.log"
echo "== fp64 reference vs Eigen GEMM ($(nproc) threads)"
"$build/references/bench/attn-reference-bench" \
  --benchmark_filter='FwdBwd/L:4096/H:32|FwdBwd/L:2048/H:8/Hkv:1|EigenGemm' \
  --benchmark_out="$out/reference_bench.json" --benchmark_out_format=json 2>&1 |
  grep -E 'FwdBwd|EigenGemm' | sed -E 's/ +/ /g'
echo "== reviewer: L 32768 B 1 t 6, one element of dq and of dk0 ($device)"
"$py" "$root/scripts/time_to_verdict.py" "$build" "$work" --seq 32768 --batch 1 --ttt-step 6 --pad 0 \
  --device "$device" --backends flash --steps generate,run,inspect --inspect dq@0,5,30000,3 \
  --json "$out/reviewer_L32768_dq.json" 2>"$out/reviewer_L32768.log" | tail -8
"$py" "$root/scripts/time_to_verdict.py" "$build" "$work" --seq 32768 --batch 1 --ttt-step 6 --pad 0 \
  --device "$device" --steps inspect --inspect dk0@0,2,30000,3 \
  --json "$out/reviewer_L32768_dk0.json" 2>>"$out/reviewer_L32768.log" | tail -4
rm -rf "$work"

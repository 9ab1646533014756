#!/usr/bin/env bash
# The main job on a default case: set up (scripts/setup.sh), generate a llama3-8b TTT case,
# compute its fp64 reference, run sdpa and flash (on CUDA when there is a GPU), and judge flash
# against the reference with sdpa as the baseline (exit code: the gate's).
# Usage: scripts/quickstart.sh [CASE]   (a case folder; default: build/default-case)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup.sh"
bin=${ATTN_BUILD_DIR:-$root/build}/attn-harness
case=${1:-${ATTN_BUILD_DIR:-$root/build}/default-case}
if [ ! -f "$case/inputs.h5" ]; then
  "$bin" generate -o "$case" --preset llama3-8b --seq 512 --ttt-step 6 --batch 2 --pad 0,37 --seed 0
fi
"$bin" reference "$case"
device=cpu
"$bin" backends | grep -q '^CUDA: available' && device=cuda
"$bin" run "$case" --backend sdpa,flash --device "$device"
"$bin" info "$case"
"$bin" compare "$case" --candidate flash --baseline sdpa --worst 5

#!/usr/bin/env bash
# Records the committed fixtures (datasets/fixtures/*.h5, bundles) on a CUDA machine: small
# generated cases with the outputs of sdpa, flash (cuDNN block 0) and flash-fa2 (C++ backends) and flex
# (kernels/flex/flex_adapter.py) recorded on the GPU in bf16, packed into one file each. CI
# re-judges them on the CPU against the fp64 reference.
# Usage: scripts/record_fixtures.sh BUILD_DIR OUT_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$1/attn-harness
out=$2
python=${ATTN_PYTHON:-python3}
mkdir -p "$out"
record() {  # NAME GENERATE-OPTIONS...
  local name=$1; shift
  local folder=$out/$name file=$out/$name.h5
  rm -rf "$folder" "$file"
  "$bin" generate -o "$folder" -q "$@"
  "$bin" run "$folder" --backend sdpa,flash,flash-fa2 --device cuda -q
  if ! "$python" "$root/kernels/flex/flex_adapter.py" record "$folder" --device cuda >"$out/$name.flex.log" 2>&1; then
    echo "$name: flex failed:"; grep -v '^ ' "$out/$name.flex.log" | tail -8
  fi
  "$bin" pack "$folder" -o "$file"
  rm -rf "$folder"
  local size; size=$(stat -c %s "$file")
  echo "$name: $size bytes"
  [ "$size" -le 2000000 ] || { echo "$name is over 2 MB" >&2; exit 1; }
}
# Unit-scale grad_out (as flash-attention's own tests use) and the generator's realistic 1e-3.
record mqa-pad-t6-d64   --preset custom --heads 4 --kv-heads 1 --head-dim 64 --seq 80 --ttt-step 6 --batch 2 --pad 0,11 --seed 101 --grad-scale 1
record gqa-pad-t3-d64   --preset custom --heads 4 --kv-heads 2 --head-dim 64 --seq 64 --ttt-step 3 --batch 2 --pad 5,0 --seed 102 --grad-scale 1
record llama-t0-d128    --preset llama3-8b --heads 4 --kv-heads 1 --seq 128 --ttt-step 0 --seed 103
record gptoss-t2-d64    --preset gpt-oss-20b --heads 8 --kv-heads 1 --seq 96 --ttt-step 2 --seed 104

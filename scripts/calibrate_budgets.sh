#!/usr/bin/env bash
# Writes the error budgets of the default gate profile (reports/profiles/bf16.budgets.json) for
# one device kind, then checks them on held-out seeds. docs/gate.md explains the budgets and
# when to run this.
#
#   cpu:  flash and sdpa run in-process on the CPU.
#   cuda: flash (cuDNN block 0), flash-fa2 and sdpa run in-process on the GPU; flex is recorded by
#         kernels/flex/flex_adapter.py into the saved cases and calibrated from them.
#   cpu with STEPS=ring: the ring backend (P processes over gloo) is recorded by
#         kernels/ring/ring_launcher.py into saved cases and calibrated from them.
#
# Usage: scripts/calibrate_budgets.sh BUILD_DIR OUT_DIR cpu|cuda
# Environment:
#   SEEDS (calibration seeds per shape, default 10), HELDOUT_SEEDS (default 100), FLEX_SEEDS
#   (default SEEDS), FLEX_HELDOUT_SEEDS (default 10), HEADROOM (default 4), SEQ (default 128),
#   PROFILE (default bf16), PRESETS (comma-separated; default all), BUDGETS (the file written;
#   default reports/profiles/bf16.budgets.json, the one the shipped bf16 profile reads; give
#   both to calibrate into a copy),
#   STEPS (which parts run: "native flex" by default on cuda, "native" on cpu; "native" is
#   "budgets heldout", the in-process backends' budgets and their held-out check; "ring" on cpu:
#   the ring backend over gloo), RING_SEEDS (default SEEDS), RING_HELDOUT_SEEDS (default 20),
#   RING_WORLD (default 2), RING_HELDOUT_WORLD (default 4),
#   JOBS (default 1: how many held-out chunks run at once; above 1 the flex steps also run two at
#   a time, beside the held-out chunks, and each process gets OMP_NUM_THREADS = cores / (JOBS +
#   2) unless it is set; the results do not depend on it, only the wall time does),
#   HELDOUT_BACKENDS (default flash on cpu, flash,flash-fa2 on cuda).
# Stopped (INT, TERM), it stops every process it started (scripts/stop_on_signal.sh), exit 143.
# Exit 0 when every calibrated backend passes every held-out case, 1 otherwise.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$1
out=$2
device=$3
bin=$build/attn-harness
python=${ATTN_PYTHON:-python3}
seeds=${SEEDS:-10}
heldout=${HELDOUT_SEEDS:-100}
flex_heldout=${FLEX_HELDOUT_SEEDS:-10}
headroom=${HEADROOM:-4}
seq=${SEQ:-128}
budgets=${BUDGETS:-$root/reports/profiles/bf16.budgets.json}
profile=${PROFILE:-bf16}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$root/scripts/stop_on_signal.sh"  # the EXIT trap above still removes the saved cases
rc=0
step() {  # NAME COMMAND...: runs it, stdout to OUT/NAME.txt, and prints its time and exit code
  local name=$1; shift
  local t0; t0=$(date +%s%N)
  waited "$@" >"$out/$name.txt" 2>"$out/$name.err"
  local r=$?
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  printf '%-20s rc=%d  %d.%d s\n' "$name" "$r" $((ms / 1000)) $((ms % 1000 / 100)) >&2
  return $r
}
jobs_max=${JOBS:-1}
running=0
step_bg() {  # like step, in the background, at most JOBS at once; drain waits for all of them
  step "$@" &
  running=$((running + 1))
  if ((running >= jobs_max)); then wait -n || rc=1; running=$((running - 1)); fi
}
drain() { while ((running > 0)); do wait -n || rc=1; running=$((running - 1)); done; }
both() {  # NAME1 CMD1... -- NAME2 CMD2...: the two steps, at once when JOBS > 1
  local a=() ; while [ "$1" != -- ]; do a+=("$1"); shift; done; shift
  if ((jobs_max > 1)); then
    step "${a[@]}" & local p=$!
    step "$@" || rc=1
    wait "$p" || rc=1
  else
    step "${a[@]}" || rc=1
    step "$@" || rc=1
  fi
}
case $device in
  cpu) backends=flash,sdpa heldout_backends=flash steps=${STEPS:-native} ;;
  cuda) backends=flash,flash-fa2,sdpa heldout_backends=flash,flash-fa2 steps=${STEPS:-native flex} ;;
  *) echo "device must be cpu or cuda, found '$device'" >&2; exit 2 ;;
esac
heldout_backends=${HELDOUT_BACKENDS:-$heldout_backends}
common=(--device "$device" --seq "$seq" --profile "$profile" --baseline sdpa)
[ -n "${PRESETS:-}" ] && common+=(--presets "$PRESETS")
if ((jobs_max > 1)) && [ -z "${OMP_NUM_THREADS:-}" ]; then
  cores=$(nproc)
  export OMP_NUM_THREADS=$(( cores / (jobs_max + 2) > 0 ? cores / (jobs_max + 2) : 1 ))
fi
steps=" $steps "
[[ "$steps" == *" native "* ]] && steps+=" budgets heldout "

if [[ "$steps" == *" budgets "* ]]; then
  # 1. Budgets from seeds 0 .. SEEDS-1 (every preset, t 0/3/6, grad_out scales 1 and 1e-3).
  step calibrate "$bin" calibrate "${common[@]}" --backends "$backends" --seeds "$seeds" \
    --headroom "$headroom" --write-budgets "$budgets" --json "$out/calibrate.json" || rc=1
  cp "$budgets" "$out/"
fi
if [[ "$steps" == *" heldout "* ]]; then
  # 2. Held-out seeds (1000 ..) judged under the budgets just written: no false alarm expected.
  #    In chunks of 25 seeds, each with its own JSON (a run cut short keeps what it finished),
  #    the chunks alternating between grad_out scales 1 and 1e-3. The baseline is not judged.
  scale=1
  for ((base = 1000; base < 1000 + heldout; base += 25)); do
    n=$(( heldout - (base - 1000) < 25 ? heldout - (base - 1000) : 25 ))
    step_bg "heldout_$base" "$bin" calibrate "${common[@]}" --backends "$heldout_backends" \
      --seed-base "$base" --seeds "$n" --grad-scales "$scale" --json "$out/heldout_$base.json"
    scale=$([ "$scale" = 1 ] && echo 0.001 || echo 1)
  done
fi
if [ "$device" = cuda ] && [[ "$steps" == *" flex "* ]]; then
  # 3. flex: generated cases are saved with the baseline's outputs (calibration seeds 0 .., held-out
  #    seeds 2000 ..), flex records into each set in one process (each shape compiles once per
  #    process), and calibrate judges the recorded outputs.
  both flex_cases "$bin" calibrate "${common[@]}" --backends sdpa --seeds "${FLEX_SEEDS:-$seeds}" \
    --save-cases "$work/flex" -q -- \
    flex_heldout_cases "$bin" calibrate "${common[@]}" --backends sdpa --seed-base 2000 \
    --seeds "$flex_heldout" --save-cases "$work/flexh" -q
  both flex_record "$python" "$root/kernels/flex/flex_adapter.py" record "$work"/flex/* --device cuda -- \
    flex_heldout_record "$python" "$root/kernels/flex/flex_adapter.py" record "$work"/flexh/* --device cuda
  step flex_calibrate "$bin" calibrate --cases "$work"/flex/* --backends flex --baseline sdpa \
    --profile "$profile" --headroom "$headroom" --write-budgets "$budgets" --json "$out/flex_calibrate.json" || rc=1
  cp "$budgets" "$out/"
  step flex_heldout "$bin" calibrate --cases "$work"/flexh/* --backends flex --baseline sdpa \
    --profile "$profile" --json "$out/flex_heldout.json" || rc=1
fi
drain
if [ "$device" = cpu ] && [[ "$steps" == *" ring "* ]]; then
  # 4. ring (gloo, RING_WORLD ranks, default 2) like flex: saved cases (calibration seeds 0 ..,
  #    held-out seeds 3000 ..), the ring launcher records into all of them in one run, calibrate
  #    judges the recorded outputs. The held-out cases run with RING_HELDOUT_WORLD ranks (default
  #    4): the budget must hold for another P too.
  step ring_cases "$bin" calibrate "${common[@]}" --backends sdpa --seeds "${RING_SEEDS:-$seeds}" \
    --save-cases "$work/ring" -q
  step ring_heldout_cases "$bin" calibrate "${common[@]}" --backends sdpa --seed-base 3000 \
    --seeds "${RING_HELDOUT_SEEDS:-20}" --save-cases "$work/ringh" -q
  step ring_record "$python" "$root/kernels/ring/ring_launcher.py" "$work"/ring/* --world "${RING_WORLD:-2}"
  step ring_heldout_record "$python" "$root/kernels/ring/ring_launcher.py" "$work"/ringh/* \
    --world "${RING_HELDOUT_WORLD:-4}"
  step ring_calibrate "$bin" calibrate --cases "$work"/ring/* --backends ring --baseline sdpa \
    --profile "$profile" --headroom "$headroom" --write-budgets "$budgets" --json "$out/ring_calibrate.json" || rc=1
  cp "$budgets" "$out/"
  step ring_heldout "$bin" calibrate --cases "$work"/ringh/* --backends ring --baseline sdpa \
    --profile "$profile" --json "$out/ring_heldout.json" || rc=1
fi
exit $rc

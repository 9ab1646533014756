#!/usr/bin/env bash
# scripts/calibrate_budgets.sh with the real binary on the CPU: a small calibration writes the
# budgets into a copy and its held-out chunks run JOBS at a time; a run stopped with TERM while
# its chunks run, or during its first step, leaves no process behind and exits 143; a bad device
# is exit 2.
# Usage: calibrate_budgets_script_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
. "$(dirname "$0")/check_lib.sh"
script=$src/scripts/calibrate_budgets.sh

budgets=$work/budgets.json
expect 0 "small calibration, two held-out chunks at once" -- env SEEDS=1 HELDOUT_SEEDS=26 \
  PRESETS=llama3-8b JOBS=2 BUDGETS="$budgets" bash "$script" "$build" "$work/run" cpu
pycheck "budgets written for flash/cpu and sdpa/cpu from 6 cases, other keys absent" '
import json, sys
b = json.load(open(sys.argv[1]))
assert set(b["budgets"]) == {"flash/cpu", "sdpa/cpu"}, b["budgets"].keys()
assert b["calibration"]["flash/cpu"]["cases"] == 6, b["calibration"]["flash/cpu"]
assert all(v > 0 for v in b["budgets"]["flash/cpu"].values())' "$budgets"
contains "$work/err" "^heldout_1000 *rc=0" "first held-out chunk reported"
contains "$work/err" "^heldout_1025 *rc=0" "second held-out chunk reported"
pycheck "held-out chunks judged: 75 + 3 cases, no failure" '
import json, sys
n = [json.load(open(f))["backends"][0] for f in sys.argv[1:]]
assert [b["cases"] for b in n] == [75, 3], [b["cases"] for b in n]
assert all(b["failures"] == 0 for b in n)' "$work/run/heldout_1000.json" "$work/run/heldout_1025.json"

stop_when_running() {  # NAME PATTERN COUNT ENV...: starts the script with ENV into $work/NAME,
  # sends TERM once COUNT of its processes match $work/NAME/PATTERN (waiting at most 60 s), then
  # checks exit 143, no process of it left and the message on the script's own stderr
  local name=$1 pattern=$2 count=$3; shift 3
  local dir=$work/$name
  env "$@" bash "$script" "$build" "$dir" cpu >"$work/$name.out" 2>"$work/$name.err" &
  local pid=$! n=0 rc
  for _ in $(seq 600); do
    n=$(pgrep -fc -- "$dir/$pattern")
    [ "$n" -ge "$count" ] && break
    sleep 0.1
  done
  checks=$((checks + 1))
  [ "$n" -ge "$count" ] || fail "$name: $count processes matching $pattern never ran at once (found $n)"
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  checks=$((checks + 1))
  [ "$rc" -eq 143 ] || fail "$name: exit $rc after TERM, expected 143"
  sleep 0.5
  checks=$((checks + 1))
  local left; left=$(pgrep -fa -- "$dir/" || true)
  [ -z "$left" ] || { fail "$name: processes left after TERM: $left"; pkill -KILL -f -- "$dir/"; }
  contains "$work/$name.err" "calibrate_budgets.sh: stopped; every process it started was stopped" \
    "$name: stop message on the script's stderr"
}

# Stopped while four held-out chunks run in the background.
stop_when_running stopped heldout_ 4 SEEDS=1 HELDOUT_SEEDS=100 PRESETS=llama3-8b JOBS=4 BUDGETS="$budgets"
# Stopped during a foreground step (the budgets): the message is not left in the step's log,
# and no budgets file is written.
stop_when_running stopped2 calibrate.json 1 SEEDS=3 PRESETS=llama3-8b BUDGETS="$work/budgets2.json"
lacks "$work/stopped2/calibrate.err" "stopped; every process" "the step's log does not take the message"
checks=$((checks + 1))
[ ! -e "$work/budgets2.json" ] || fail "a stopped calibration wrote a budgets file"

expect 2 "unknown device" -- bash "$script" "$build" "$work/bad" tpu
contains "$work/err" "device must be cpu or cuda, found 'tpu'" "device message"
checks_done

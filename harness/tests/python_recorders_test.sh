#!/usr/bin/env bash
# Outputs written by Python programs are judged like the harness's own: datasets/record_example.py
# (a PyTorch eager attention recorded through h5py) and the flex adapter (torch.compile of
# flex_attention; on the CPU torch 2.11 gives the forward output only).
# Usage: python_recorders_test.sh PATH/TO/attn-harness PYTHON SOURCE_ROOT
set -u
bin=$1
python=$2
root=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0; checks=0
check() {  # WANT_RC DESCRIPTION COMMAND...
  local want=$1 what=$2; shift 2
  checks=$((checks + 1))
  "$@" >"$work/log" 2>&1; local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $what: exit $rc, expected $want"; tail -20 "$work/log"; failures=$((failures + 1))
  else
    echo "ok: $what"
  fi
}
check 0 "record_example.py writes a case" "$python" "$root/datasets/record_example.py" "$work/good"
check 0 "sdpa baseline recorded" "$bin" run "$work/good" --backend sdpa -q
check 0 "the recorded eager attention passes the gate" \
  "$bin" gate "$work/good" --candidate torch-eager --baseline sdpa -q
check 0 "record_example.py --bug writes a case" "$python" "$root/datasets/record_example.py" "$work/bad" --bug
check 0 "sdpa baseline recorded (bug case)" "$bin" run "$work/bad" --backend sdpa -q
check 1 "unscaled singleton scores fail the gate" \
  "$bin" gate "$work/bad" --candidate torch-eager --baseline sdpa -q
check 0 "flex adapter records on the CPU" \
  "$python" "$root/kernels/flex/flex_adapter.py" record "$work/good" --device cpu
check 0 "flex (forward, CPU) passes the gate on out" \
  "$bin" gate "$work/good" --candidate flex --baseline sdpa -q
"$bin" gate "$work/good" --candidate flex --baseline sdpa -q >"$work/flex.txt" 2>&1
checks=$((checks + 1))
if grep -q "did not record lse, dq" "$work/flex.txt"; then echo "ok: the gate says what flex did not record"
else echo "FAIL: no note of the tensors flex did not record: $(cat "$work/flex.txt")"; failures=$((failures + 1)); fi
check 0 "the python package reproduces the input hash" "$python" -c "
import sys; sys.path.insert(0, '$root/harness/python')
import attn_harness, json, subprocess
h = attn_harness.input_hash('$work/good')
info = json.loads(subprocess.run(['$bin', 'info', '$work/good', '--verify', '--json', '-'], capture_output=True, text=True).stdout)
assert h == info['input_hash'] == info['recorded_input_hash'], (h, info['input_hash'], info['recorded_input_hash'])"
check 2 "flex adapter: missing case file" \
  "$python" "$root/kernels/flex/flex_adapter.py" record "$work/missing"
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# run --backend ring --world P through the real binary, real gloo process groups on this host:
# P = 2 and 4 on small GQA cases (t 0 unpadded, t 6 padded, an L that P does not divide) are
# recorded with their provenance, pass the gate against sdpa and against the single-process
# flash path; every bad request and every way a rank can fail (an exception, a signal, a hang
# past --ring-timeout) is an input error (exit 2) naming what was expected and found, with
# nothing recorded and no rank left running; the C++ and Python catalogues of ring variants
# agree; a failing launcher fails the ring self-test.
# Usage: ring_cli_test.sh PATH/TO/attn-harness SOURCE_DIR PYTHON
set -u
bin=$1
root=$2
python=$3
. "$root/harness/tests/check_lib.sh"
export TMPDIR=$work/tmp  # the launcher's run folders, so that leftover ranks can be found
mkdir -p "$TMPDIR"
absent() {  # CASE PRODUCER DESCRIPTION
  checks=$((checks + 1))
  [ ! -e "$1/outputs/$2.h5" ] || fail "$3: $(basename "$1")/outputs/$2.h5 was recorded"
}
no_ranks_left() {  # DESCRIPTION: no process of a run folder of this test is still alive
  checks=$((checks + 1))
  local left
  left=$(pgrep -f -- "$TMPDIR/attn-ring-" || true)
  [ -z "$left" ] || fail "$1: ranks still running: $(ps -o pid,args -p "${left//$'\n'/,}" | tail -n +2)"
}
gen() {  # NAME ARGS...: a small GQA case (H 4, Hkv 2, D 32), sdpa and flash recorded
  local name=$1; shift
  "$bin" generate -o "$work/$name" -q --preset custom --heads 4 --kv-heads 2 --head-dim 32 "$@" &&
    "$bin" run "$work/$name" --backend sdpa,flash -q >/dev/null || fail "generate $name"
}
gen t6pad --seq 64 --ttt-step 6 --batch 2 --pad 0,11 --seed 1
gen t0 --seq 48 --ttt-step 0 --batch 2 --seed 2
gen odd --seq 50 --ttt-step 6 --batch 2 --pad 3,0 --seed 3 --grad-scale 1

# The correct path, P = 2 and 4.
for spec in "t6pad 2" "t0 2" "t0 4" "odd 4"; do
  set -- $spec
  c=$work/$1 p=$2
  expect 0 "$1: ring with $p ranks is recorded" -- "$bin" run "$c" --backend ring --world "$p" --as "ring-p$p"
  contains "$work/out" "ring-p$p (cpu, world $p, gloo): recorded as" "$1, P $p: the run says where it recorded"
  expect 0 "$1, P $p: passes the gate (baseline sdpa)" -- "$bin" gate "$c" --candidate "ring-p$p"
  expect 0 "$1, P $p: matches the single-process flash path within the gate" -- \
    "$bin" gate "$c" --candidate "ring-p$p" --baseline flash
done
expect 0 "info" -- "$bin" info "$work/odd" --json "$work/info.json"
pycheck "provenance of a ring record" 'import json, sys
p = json.load(open(sys.argv[1]))["producers"]["ring-p4"]
prov = p["provenance"]
assert prov["backend"] == "ring" and prov["world_size"] in (4, "4"), prov
assert prov["process_group_backend"] == "gloo" and prov["device"] == "cpu", prov
assert prov["chunk_rows"] in (13, "13") and prov["padded_length"] in (52, "52"), prov
assert prov.get("invalid_rows", p.get("invalid_rows")) == "zeros", p
assert set(p["tensors"]) == {"out", "lse", "dq"} | {f"d{x}{m}" for x in "kv" for m in range(7)}, p["tensors"]' \
  "$work/info.json"
expect 2 "gate without a ring record" -- "$bin" gate "$work/t0" --candidate ring
contains "$work/out" "record it with \`attn-harness run .*/t0 --backend ring --world P\`" \
  "the hint for a missing ring record names --world"
expect 0 "world 1 (no communication) with the composed chunk kernel" -- \
  "$bin" run "$work/t6pad" --backend ring --world 1 --ring-block0 composed --as ring-p1 -q
expect 0 "world 1 passes the gate" -- "$bin" gate "$work/t6pad" --candidate ring-p1
expect 0 "a recorded ring mutant (world 1: the diagonal chunk is the only one)" -- "$bin" run "$work/t6pad" --backend ring-mutant-diag-skip --world 1 -q
expect 1 "fails the gate" -- "$bin" gate "$work/t6pad" --candidate ring-mutant-diag-skip
contains "$work/out" "^      dv0: err_c" "the gate names a failing tensor"

# Bad requests: refused before any rank starts.
c=$work/t0
expect 2 "P < 1" -- "$bin" run "$c" --backend ring --world 0 --as bad
contains "$work/err" "expected a number of ranks >= 1, found 0" "P < 1: expected and found"
expect 2 "negative P" -- "$bin" run "$c" --backend ring --world -3 --as bad
contains "$work/err" "found -3" "negative P: found"
expect 2 "P > L" -- "$bin" run "$c" --backend ring --world 49 --as bad
contains "$work/err" "has L = 48 rows; expected at most L ranks" "P > L: expected and found"
expect 2 "ring without --world" -- "$bin" run "$c" --backend ring --as bad
contains "$work/err" "expected --world P" "names the missing option"
expect 2 "--world without a ring backend" -- "$bin" run "$c" --backend sdpa --world 2 --as bad
contains "$work/err" "expected a ring backend" "names the missing backend"
expect 2 "--ring-timeout 0" -- "$bin" run "$c" --backend ring --world 2 --ring-timeout 0 --as bad
contains "$work/err" "expected seconds > 0" "timeout: expected"
expect 2 "unknown block-0 kernel" -- "$bin" run "$c" --backend ring --world 2 --ring-block0 fast --as bad
contains "$work/err" "expected auto, flash or composed, found 'fast'" "block0: expected and found"
expect 2 "--repeat with the ring" -- "$bin" run "$c" --backend ring --world 2 --repeat 2 --as bad
CUDA_VISIBLE_DEVICES= expect 2 "cuda without P GPUs" -- "$bin" run "$c" --backend ring --world 2 --device cuda --as bad
contains "$work/err" "expected 2 GPUs (one per rank), found" "cuda: GPUs expected and found"
absent "$c" bad "no bad request recorded anything"

# Ranks that fail: the others are stopped, the failing rank's message is printed, nothing recorded.
ATTN_RING_TEST_FAIL=1:backward:raise expect 2 "a rank raises in the backward" -- \
  "$bin" run "$c" --backend ring --world 2 --as failed
contains "$work/err" "ring rank 1 of 2 failed: RuntimeError: injected failure" "names the rank and its exception"
contains "$work/err" "nothing was recorded" "says nothing was recorded"
ATTN_RING_TEST_FAIL=0:forward:kill expect 2 "a rank is killed" -- \
  "$bin" run "$c" --backend ring --world 2 --as failed
contains "$work/err" "ring rank 0 of 2 failed: was killed by signal 9 (SIGKILL)" "names the rank and the signal"
ATTN_RING_TEST_FAIL=1:forward:hang expect 2 "a rank hangs past --ring-timeout" -- \
  "$bin" run "$c" --backend ring --world 2 --ring-timeout 3 --as failed
contains "$work/err" "did not finish within 3 s, its time limit (attn-harness run --ring-timeout)" "names the limit"
absent "$c" failed "no failed run recorded anything"
no_ranks_left "after the failures"
ATTN_RING_TEST_FAIL=1:forward:raise expect 1 "a failing launcher fails the ring self-test" -- \
  "$bin" selftest --ring 2 -q
contains "$work/out" "ring rank 1 of 2 failed\|the ring launcher failed" "the matrix says why"
expect 2 "selftest --ring 0" -- "$bin" selftest --ring 0 -q
no_ranks_left "after the self-test"

# The two catalogues of ring variants (attn-harness backends, ring_variants.py) agree.
expect 0 "backends" -- "$bin" backends
sed -n '/^Ring/,/^Mutants/p' "$work/out" | sed '1d;$d' >"$work/cpp_variants"
expect 0 "the launcher's list" -- "$python" "$root/kernels/ring/ring_launcher.py" --list-variants
pycheck "the C++ and Python catalogues of ring variants agree" 'import sys
cpp = [l.strip() for l in open(sys.argv[1]) if l.strip()]
py = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
assert len(cpp) == len(py) == 5, (cpp, py)
for c, (name, invisible, summary) in zip(cpp, py):
    want = f"{name:<30}{summary}" + (f" [invisible when {invisible}]" if invisible else "")
    assert " ".join(c.split()) == " ".join(want.split()), (c, want)' "$work/cpp_variants" "$work/out"
checks_done

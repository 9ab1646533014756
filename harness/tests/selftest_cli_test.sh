#!/usr/bin/env bash
# selftest, calibrate and the mutant backends through the real binary: exit codes, JSON and
# Markdown outputs, mutants kept out of `run --backend all`, a recorded mutant failing `gate`.
# Usage: selftest_cli_test.sh PATH/TO/attn-harness
set -u
bin=$1
. "$(dirname "$0")/check_lib.sh"

expect 0 "selftest" -- "$bin" selftest -q --json "$work/st.json" --markdown "$work/st.md"
contains "$work/out" "selftest: PASSED" "selftest verdict line"
contains "$work/out" "mutant-own-lse" "matrix lists the shipped defect"
contains "$work/st.json" '"schema": "attn-harness.selftest/2"' "selftest JSON schema"
contains "$work/st.json" '"passed": true' "selftest JSON verdict"
contains "$work/st.md" '| `flash` | pass |' "selftest Markdown row of the real path"
expect 2 "selftest on an unknown device" -- "$bin" selftest --device tpu

expect 0 "backends" -- "$bin" backends
contains "$work/out" "^Mutants" "backends has a mutant section"
contains "$work/out" "mutant-gqa-tiled" "backends lists the mutants"

case=$work/case
expect 0 "generate" -- "$bin" generate -o "$case" --preset custom --heads 4 --kv-heads 2 \
  --head-dim 64 --seq 48 --ttt-step 2 --batch 2 --pad 0,5 --grad-scale 1 --seed 9
expect 0 "run all" -- "$bin" run "$case" --backend all -q
lacks "$work/out" "mutant" "run --backend all stays mutant-free"
expect 0 "run a mutant" -- "$bin" run "$case" --backend mutant-own-lse -q
expect 0 "gate the real path" -- "$bin" gate "$case" --candidate flash
expect 1 "gate catches the recorded mutant" -- "$bin" gate "$case" --candidate mutant-own-lse
expect 2 "unknown mutant" -- "$bin" run "$case" --backend mutant-nope -q
contains "$work/err" "mutants listed by" "unknown backend message points at the mutants"

expect 0 "calibrate" -- "$bin" calibrate -q --presets llama3-8b --seeds 1 --seq 48 --t 2 \
  --json "$work/cal.json" --mutants
contains "$work/out" "^flash (flash/cpu): 2 cases, fails the profile on 0; .*margin to a false alarm" "calibrate margin line"
contains "$work/out" "mutant-own-lse" "calibrate lists the mutants' miss margins"
contains "$work/cal.json" '"schema": "attn-harness.calibrate/2"' "calibrate JSON schema"
contains "$work/cal.json" '"real_failures": 0' "calibrate JSON real failures"
expect 0 "calibrate --write-budgets" -- "$bin" calibrate -q --presets llama3-8b --seeds 1 --seq 48 --t 1 \
  --backends flash --write-budgets "$work/b.json"
expect 0 "calibrate --write-budgets keeps the other keys" -- "$bin" calibrate -q --presets llama3-8b \
  --seeds 1 --seq 48 --t 1 --backends sdpa --write-budgets "$work/b.json" --headroom 8
pycheck "the budget file" 'import json, sys; d = json.load(open(sys.argv[1]))
assert d["schema"] == "attn-harness.budgets/1", d["schema"]
assert sorted(d["budgets"]) == ["flash/cpu", "sdpa/cpu"], sorted(d["budgets"])
for key, headroom in (("flash/cpu", 4), ("sdpa/cpu", 8)):
    assert d["calibration"][key]["headroom"] == headroom, d["calibration"][key]
    assert sorted(d["budgets"][key]) == ["dk", "dq", "dv", "lse", "out"], d["budgets"][key]
    for kind, b in d["budgets"][key].items():
        assert abs(b - headroom * d["observed"][key][kind]) <= 1e-12 * b, (key, kind, b)' "$work/b.json"
expect 0 "calibrate --save-cases" -- "$bin" calibrate -q --presets llama3-8b,gpt-oss-20b --seeds 1 \
  --seq 40 --t 0,2 --grad-scales 1 --save-cases "$work/saved" --json "$work/gen.json"
expect 0 "calibrate --cases" -- "$bin" calibrate -q --cases "$work"/saved/* --backends flash \
  --json "$work/rec.json"
pycheck "recorded cases give the generated run's numbers" 'import json, sys
g, r = (json.load(open(f)) for f in sys.argv[1:3])
assert r["source"] == "recorded" and len(r["cases"]) == 4 == len(g["cases"]), (r["source"], r["cases"])
gf = [b for b in g["backends"] if b["name"] == "flash"][0]
rf = r["backends"][0]
assert rf["key"] == "flash/cpu" and rf["cases"] == 4, rf
assert rf["max_use"] == gf["max_use"], (rf["max_use"], gf["max_use"])
assert [k["rel_err"]["max"] for k in rf["kinds"]] == [k["rel_err"]["max"] for k in gf["kinds"]]' \
  "$work/gen.json" "$work/rec.json"
expect 2 "calibrate --cases with --mutants" -- "$bin" calibrate --cases "$work"/saved/* --mutants
expect 2 "calibrate --seeds 0" -- "$bin" calibrate --seeds 0
expect 2 "calibrate unknown preset" -- "$bin" calibrate --presets nope

checks_done

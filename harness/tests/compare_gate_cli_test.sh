#!/usr/bin/env bash
# End-to-end checks of compare, gate and inspect: real binary, case files written by
# gate_external_case.py (h5py; producers ext, ext_bad, sdpa), real exit codes and outputs.
# Usage: compare_gate_cli_test.sh PATH/TO/attn-harness   (exit 77 = skipped: no h5py)
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
$py -c 'import h5py, numpy' 2>/dev/null || { echo "SKIP: /usr/bin/python3 lacks h5py or numpy"; exit 77; }
. "$here/check_lib.sh"

for sub in compare gate inspect; do expect 0 "$sub --help" -- "$bin" "$sub" --help; done
case=$work/x
$py "$here/gate_external_case.py" --write "$case" "$bin" || { echo "FAIL: could not write the case"; exit 1; }

# compare
expect 0 "compare ext" -- "$bin" compare "$case" --candidate ext -q --json "$work/c.json" --markdown "$work/c.md"
contains "$work/out" "verdict: PASS (9 of 9 tensors judged)" "compare prints the verdict"
contains "$work/out" "^dq  *bf16" "compare prints one line per tensor"
contains "$work/out" "declares zeros: all" "compare prints the invalid-row check"
pycheck "compare --json" 'import json, sys; d = json.load(open(sys.argv[1]))
assert d["schema"] == "attn-harness.compare/2" and d["passed"] is True, d["schema"]
assert [t["name"] for t in d["tensors"]] == ["out", "lse", "dq", "dk0", "dk1", "dk2", "dv0", "dv1", "dv2"]
assert d["baseline"]["name"] == "sdpa" and d["profile"]["name"] == "bf16"
assert len(d["tensors"][2]["worst"]) == 10' "$work/c.json"
contains "$work/c.md" "| dq | bf16 |" "compare --markdown has the table"
expect 1 "compare ext_bad" -- "$bin" compare "$case" --candidate ext_bad -q --worst 2
contains "$work/out" "verdict: FAIL: dq dk0" "compare names the failing tensors"
contains "$work/out" "worst elements of dq (2;" "compare shows the worst elements of a failing tensor"
expect 1 "compare --json -" -- "$bin" compare "$case" --candidate ext_bad -q --json -
pycheck "compare --json - is JSON only" 'import json, sys; d = json.load(open(sys.argv[1])); assert d["failed"] == ["dq", "dk0"], d["failed"]' "$work/out"
expect 2 "compare a missing producer" -- "$bin" compare "$case" --candidate flash -q
contains "$work/err" "producers: ext, ext_bad, sdpa" "the error lists the producers"
expect 2 "compare without --candidate" -- "$bin" compare "$case"
expect 2 "compare --worst -1" -- "$bin" compare "$case" --candidate ext --worst -1

# gate
cp -r "$case" "$work/y"
expect 0 "gate two cases" -- "$bin" gate "$case" "$work/y" --candidate ext -q --junit "$work/ok.xml" --json "$work/g.json"
contains "$work/out" "^PASS  .*/y (9/9 tensors" "gate prints one line per case"
contains "$work/out" "gate PASS: 2 case(s), 0 failing" "gate prints a total"
pycheck "gate --junit (pass)" 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot()
cases = r.findall("./testsuite/testcase")
assert len(r.findall("testsuite")) == 2 and len(cases) == 20, len(cases)  # 9 tensors + the invalid-row check, per case
assert not r.findall(".//failure") and cases[2].get("name").endswith("x:dq"), cases[2].get("name")
assert cases[9].get("name").endswith("x:invalid_rows"), cases[9].get("name")' "$work/ok.xml"
pycheck "gate --json" 'import json, sys; d = json.load(open(sys.argv[1]))
assert d["schema"] == "attn-harness.gate/2" and d["exit_code"] == 0 and d["totals"]["judged_tensors"] == 18, d["totals"]' "$work/g.json"
expect 1 "gate ext_bad" -- "$bin" gate "$case" --candidate ext_bad -q --junit "$work/bad.xml"
contains "$work/out" "^FAIL  .*/x (2 of 9 tensors fail)" "gate names the failing case"
contains "$work/out" "^      dq: err_c .* > threshold" "gate names the failing tensor and its numbers"
pycheck "gate --junit (fail)" 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot()
f = r.findall(".//failure"); assert len(f) == 2, len(f)
m = f[0].get("message"); assert m.startswith("dq: err_c") and "threshold" in m and "floor" in m, m
assert "err_b=" in f[0].text and "ratio=" in f[0].text, f[0].text' "$work/bad.xml"
expect 2 "gate with a missing case" -- "$bin" gate "$case" "$work/nope" --candidate ext -q --junit "$work/err.xml"
contains "$work/out" "^PASS  .*/x " "the other cases are still judged"
contains "$work/out" "^ERROR .*nope" "the missing case is named"
pycheck "gate --junit (error)" 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot()
assert len(r.findall(".//error")) == 1 and r.get("errors") == "1"' "$work/err.xml"
expect 2 "gate: default candidate flash is not recorded" -- "$bin" gate "$case" -q
contains "$work/out" "attn-harness run .* --backend flash" "the error names the command that records it"
expect 2 "gate: unknown profile" -- "$bin" gate "$case" --candidate ext --profile no-such-profile -q
contains "$work/err" "no-such-profile" "the unknown profile is named"
echo '{"schema": "attn-harness.profile/1", "mode": "relative", "tensors": {"dq": {"ratio": 3}, "dx": {}}}' >"$work/bad.json"
expect 2 "gate: profile with an unknown tensor" -- "$bin" gate "$case" --candidate ext --profile "$work/bad.json" -q
contains "$work/err" "unknown tensor name 'dx'" "the bad tensor name is named"
echo '{"schema": "attn-harness.profile/1", "mode": "relative", "tensors": {"dq": {"ratio": 3}}}' >"$work/dq-only.json"
expect 0 "gate: a profile judging dq only" -- "$bin" gate "$case" --candidate ext --profile "$work/dq-only.json" -q
contains "$work/out" "(1/1 tensors" "only the listed tensor is judged"
expect 0 "gate: abs-bf16" -- "$bin" gate "$case" --candidate ext --profile abs-bf16 -q
expect 2 "gate: missing baseline under the relative profile" -- "$bin" gate "$case" --candidate ext --baseline none -q
cp -r "$case" "$work/nobase"
rm "$work/nobase/outputs/sdpa.h5"
expect 2 "gate: the default baseline absent under the relative profile" -- "$bin" gate "$work/nobase" --candidate ext -q
contains "$work/out" "attn-harness run .* --backend sdpa" "the error names the command that records the baseline"
expect 0 "gate: no baseline needed under abs-bf16" -- "$bin" gate "$work/nobase" --candidate ext --profile abs-bf16 -q
expect 0 "compare without a baseline under abs-bf16" -- "$bin" compare "$work/nobase" --candidate ext --profile abs-bf16 -q
contains "$work/out" "no baseline" "compare says there is no baseline"
"$bin" generate -o "$work/gen" --preset custom --heads 2 --kv-heads 1 --head-dim 8 --seq 16 >/dev/null
expect 2 "gate: a case with no producers" -- "$bin" gate "$work/gen" -q

# A damaged producer file: that case's line says so, the others are judged, the summary and
# the JUnit file are written.
cp -r "$case" "$work/damaged"
head -c 3000 "$case/outputs/ext.h5" >"$work/damaged/outputs/ext.h5"
expect 2 "gate: a damaged producer among good cases" -- "$bin" gate "$case" "$work/damaged" --candidate ext -q --junit "$work/dmg.xml"
contains "$work/out" "^ERROR .*damaged.*cannot be read" "the damaged producer is named"
contains "$work/out" "^gate ERROR: 2 case(s)" "the summary is written"
pycheck "gate --junit with a damaged case" 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot()
assert len(r.findall("testsuite")) == 2 and len(r.findall(".//error")) == 1' "$work/dmg.xml"
expect 0 "info lists the damaged producer" -- "$bin" info "$work/damaged"
contains "$work/out" "ext  *damaged" "info marks it damaged"

# inspect
expect 0 "inspect --at" -- "$bin" inspect "$case" --tensor dq --at 0,1,3,5 -q
contains "$work/out" "reference (fp64, cached)" "inspect prints the reference value"
contains "$work/out" "sdpa (baseline)" "inspect marks the baseline"
contains "$work/out" "ext_bad" "inspect lists every producer"
contains "$work/out" "singleton m=2: logit" "inspect prints the singleton weights"
contains "$work/out" "reference lse" "inspect prints the row's lse"
contains "$work/out" "the row's lse in each producer" "inspect prints each producer's own lse"
contains "$work/out" "^ *ext_bad  *-\?[0-9.]*e[-+][0-9]*  *-\?[0-9.]*e[-+][0-9]*  *[0-9.]*e[-+][0-9]*  *[0-9.]*e[-+][0-9]*$" \
  "inspect prints a producer's lse, its difference and the two singleton weights it implies"
expect 0 "inspect dk1" -- "$bin" inspect "$case" --tensor dk1 --at 1,1,4,2 --candidate ext -q
contains "$work/out" "cache block 1" "inspect names the block"
contains "$work/out" "query row (b=1, h=3, i=4)" "inspect shows the rows of the GQA group"
expect 0 "inspect --worst" -- "$bin" inspect "$case" --tensor dk0 --worst 3 --candidate ext_bad -q
checks=$((checks + 1)); [ "$(grep -c '^[01]  ' "$work/out")" -eq 3 ] || fail "inspect --worst 3 lists 3 elements: $(cat "$work/out")"
contains "$work/out" "^kv heads with the largest errors (of 2): [01] (max " "inspect --worst names the worst heads"
expect 0 "inspect an invalid row" -- "$bin" inspect "$case" --tensor out --at 1,0,20,0 -q
contains "$work/out" "INVALID" "inspect says the row is invalid"
expect 2 "inspect: coordinate out of range" -- "$bin" inspect "$case" --tensor dq --at 0,9,3,0 -q
expect 2 "inspect: wrong number of coordinates" -- "$bin" inspect "$case" --tensor lse --at 0,1,3,0 -q
expect 2 "inspect: unknown tensor" -- "$bin" inspect "$case" --tensor dz --at 0,0,0,0 -q
expect 2 "inspect: block beyond t" -- "$bin" inspect "$case" --tensor dv3 --worst 2 -q
expect 2 "inspect: --at and --worst together" -- "$bin" inspect "$case" --tensor dq --at 0,0,0,0 --worst 2 -q

checks_done

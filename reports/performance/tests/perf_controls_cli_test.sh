#!/usr/bin/env bash
# Comparing nights through same-run controls, on benchmarks measured on an H200
# (reports/h200/2026-12-01-block0): a known change between two versions of the flash path
# (FA2 on block 0 before, cuDNN after) is flagged with its size; the same results on a machine
# 10 % slower are not flagged through the controls (and are, as raw times); perf-noise measures
# the noise between runs and report --noise uses it.
# Usage: perf_controls_cli_test.sh PATH/TO/attn-harness SOURCE_DIR
set -u
bin=$1
root=$2
data=$root/reports/h200/2026-12-01-block0/attn_bench_train_step.json
py=/usr/bin/python3
. "$root/harness/tests/check_lib.sh"
# transform IN OUT MODE: fa2-as-flash (the version before cuDNN: FA2's results under the names
# flash and floor), slower:F (every time x F and the GEMM rate / F), jitter:SEED (each
# benchmark's times x a factor within +-1 %, as between two nights, and the run's date moved by
# SEED days).
transform() {
  $py - "$@" <<'PY'
import json, random, sys
src, dst, mode = sys.argv[1:4]
d = json.load(open(src))
out = []
if mode == "fa2-as-flash":
    for b in d["benchmarks"]:
        parts = b["name"].split("/")
        if parts[1] in ("flash", "floor"):
            continue
        if parts[1] in ("flash-fa2", "floor-fa2"):
            parts[1] = parts[1][:-4]
            for k in ("name", "run_name"):
                if k in b:
                    b[k] = b[k].replace(b[k].split("/")[1], parts[1], 1)
        out.append(b)
elif mode.startswith("slower:") or mode.startswith("jitter:"):
    kind, arg = mode.split(":")
    rng = random.Random(int(arg) if kind == "jitter" else 0)
    if kind == "jitter":
        d["context"]["date"] = "2026-12-%02dT02:00:00+00:00" % (10 + int(arg))
    factors = {}
    for b in d["benchmarks"]:
        key = b["run_name"] if "run_name" in b else b["name"]
        f = float(arg) if kind == "slower" else factors.setdefault(key, 1 + rng.uniform(-0.01, 0.01))
        for k in ("real_time", "cpu_time"):
            if k in b and not (b.get("aggregate_name") in ("cv",)):
                b[k] = b[k] * f
        if "gemm_TFLOPS" in b and kind == "slower":
            b["gemm_TFLOPS"] = b["gemm_TFLOPS"] / f
        out.append(b)
d["benchmarks"] = out
json.dump(d, open(dst, "w"))
PY
}
transform "$data" "$work/fa2.json" fa2-as-flash
transform "$data" "$work/slower.json" slower:1.10
for s in 1 2 3; do transform "$data" "$work/night$s.json" "jitter:$s"; done

expect 0 "cuDNN against FA2 (an improvement)" -- "$bin" report "$data" --previous "$work/fa2.json" -o "$work/r1" --no-charts -q
contains "$work/out" "against previous: regressions 0, improvements [1-9]" "the improvement is counted"
contains "$work/r1/report.md" "| train_step/flash/llama3-8b-mha/L:16384/T:7 | 197.4 | 124.6 | -36.9 % | floor-sdpa | -36.9 % |" "flash at 16K: 197.4 -> 124.6 ms, -36.9 % over floor-sdpa"
expect 1 "FA2 against cuDNN (a regression), --fail-on-regression" -- "$bin" report "$work/fa2.json" --previous "$data" -o "$work/r2" --no-charts -q --fail-on-regression
contains "$work/out" "regression: train_step/flash/llama3-8b-mha/L:4096/T:7  15.5 -> 22.0 ms; over floor-sdpa +41.9 %" "flagged with its size"
expect 0 "the same results on a slower machine, through the controls" -- "$bin" report "$work/slower.json" --previous "$data" -o "$work/r3" --no-charts -q --fail-on-regression
contains "$work/out" "against previous: regressions 0, improvements 0" "nothing flagged"
expect 1 "the same, raw times" -- "$bin" report "$work/slower.json" --previous "$data" -o "$work/r4" --no-charts -q --fail-on-regression --no-controls
# 35 of 36: floor-sdpa at 4K has 5 % noise between its repetitions, more than half of the 10 %.
contains "$work/out" "against previous: regressions 35, improvements 0, within noise 1" "flagged as raw times"
expect 0 "perf-noise from two nights" -- "$bin" perf-noise --run "$work/night1.json" --run "$work/night2.json" -o "$work/noise.json"
contains "$work/out" "perf-noise: 2 runs; sigma of ln(controlled time)" "summary line"
contains "$work/out" "  floor-sdpa   30 benchmarks: median" "floor-sdpa: the 30 benchmarks controlled by it"
contains "$work/out" "  gemm         36 benchmarks: median" "gemm: all 36 (floor-sdpa itself among them)"
# A further night judged with the noise of the first two: the check that means something.
expect 0 "report --noise, a third night" -- "$bin" report "$work/night3.json" --previous "$work/night2.json" --noise "$work/noise.json" -o "$work/r5" --no-charts -q --fail-on-regression
contains "$work/out" "noise between runs from $work/noise.json" "names the noise file"
contains "$work/out" "flagged when the change > 3 x noise and > 1 %" "3 x sigma by default with a noise file"
lacks "$work/out" "measured from both of these runs" "no circularity note for a further night"
# ... while the known slowdown (FA2 on block 0) is still flagged with its size under that noise.
expect 1 "FA2 against a night of cuDNN, with the noise file" -- "$bin" report "$work/fa2.json" --previous "$work/night3.json" \
  --noise "$work/noise.json" -o "$work/r9" --no-charts -q --fail-on-regression
contains "$work/out" "regression: train_step/flash/llama3-8b-mha/L:4096/T:7  15.[0-9] -> 22.0 ms; over floor-sdpa +4[0-9].[0-9] % (sigma [0-9.]* %, between runs" \
  "flagged with its size and the noise between runs"
# The two nights the noise came from: the report says that its verdicts are no evidence.
expect 0 "report --noise on the noise's own nights" -- "$bin" report "$work/night2.json" --previous "$work/night1.json" --noise "$work/noise.json" -o "$work/r8" --no-charts -q
contains "$work/out" "note: the noise file was measured from both of these runs, so it is no evidence about a change between them" "circularity note on stdout"
contains "$work/r8/report.md" "Note: the noise file was measured from both of these runs" "circularity note on the page"
lacks "$work/r5/report.md" "measured from both of these runs" "no note on the third night's page"
expect 2 "perf-noise with one run" -- "$bin" perf-noise --run "$work/night1.json" -o "$work/n1.json"
contains "$work/err" "at least two runs" "says two runs are needed"
expect 2 "--noise without --previous" -- "$bin" report "$data" --noise "$work/noise.json" -o "$work/r6" --no-charts -q
expect 2 "--noise with a bad file" -- "$bin" report "$data" --previous "$data" --noise "$data" -o "$work/r7" --no-charts -q
contains "$work/err" 'expected "schema": "attn-harness.perf-noise/2" (written by `attn-harness perf-noise`), found none' "names the expected schema and what it found"

# The real H200 runs of one kernel code (committed under reports/h200): A the block-0 session
# (floor-sdpa, 44 benchmarks), B the first nightly run (no floor-sdpa), C the second nightly run
# (another session), D shard 2 of a third run, right after C. Each check judges a pair with the
# noise of runs that exclude one of the pair, so that the noise is no echo of the change.
h200=$root/reports/h200
runA=$h200/2026-12-01-block0/attn_bench_train_step.json,$h200/2026-12-01-block0/attn_bench_bwd.json
runB=$(ls "$h200"/2026-12-01-nightly/attn_bench.shard-*.json.gz "$h200"/2026-12-01-nightly/flex.shard-*.json | paste -sd, -)
runC=$(ls "$h200"/2026-12-01-nightly-2/attn_bench.shard-*.json.gz "$h200"/2026-12-01-nightly-2/flex.shard-*.json | paste -sd, -)
runD=$h200/2026-12-01-nightly-3/attn_bench.shard-2-of-3.json.gz
expect 0 "perf-noise B, C, D" -- "$bin" perf-noise --run "$runB" --run "$runC" --run "$runD" -o "$work/noise_BCD.json"
expect 0 "perf-noise A, B, C" -- "$bin" perf-noise --run "$runA" --run "$runB" --run "$runC" -o "$work/noise_ABC.json"
IFS=, read -r -a filesC <<<"$runC"
expect 0 "C against A (another session), noise of B, C, D" -- "$bin" report "${filesC[@]}" --previous "$runA" \
  --noise "$work/noise_BCD.json" -o "$work/h1" --no-charts -q
contains "$work/out" "against previous: regressions 0, improvements 0, within noise 22," "two sessions of one code: nothing flagged"
expect 0 "D against C (the same session), noise of A, B, C" -- "$bin" report "$runD" --previous "$runC" \
  --noise "$work/noise_ABC.json" -o "$work/h2" --no-charts -q
contains "$work/out" "against previous: regressions 1, improvements 1, within noise 351," "a further run: 2 of 353 flagged (both 32K, +-1.2 %)"
expect 0 "FA2 on block 0 (from A) against C, noise of B, C, D" -- "$bin" report "$work/fa2.json" --previous "$runC" \
  --noise "$work/noise_BCD.json" -o "$work/h3" --no-charts -q
contains "$work/out" "against previous: regressions 12, improvements 0, within noise 6," "the FA2 slowdown: all 12 FA2 benchmarks flagged"
contains "$work/out" "regression: train_step/flash/llama3-8b/L:32768/T:7  441.1 -> 699.3 ms; over floor-sdpa +58.5 %" "with its size"

checks_done

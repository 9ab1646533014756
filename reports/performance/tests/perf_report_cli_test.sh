#!/usr/bin/env bash
# attn-harness report end to end on the committed sample: exit codes, the files it writes, the
# regressions it prints, bad input (exit 2 naming the file) and a missing gnuplot. Where gnuplot
# is not installed (the GPU image) only the checks that need no charts run, and the test exits
# 77 (skipped) when they pass.
# Usage: perf_report_cli_test.sh PATH/TO/attn-harness DATA_DIR
set -u
bin=$(realpath "$1") data=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0; checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect RC DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit code, keeps its output.
expect() {
  local want=$1 what=$2; shift 3
  checks=$((checks + 1))
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  [ "$rc" -eq "$want" ] || fail "$what: exit $rc, expected $want; stdout: $(head -c 300 "$work/out"); stderr: $(head -c 600 "$work/err")"
}
contains() {  # FILE PATTERN DESCRIPTION
  checks=$((checks + 1))
  grep -q -- "$2" "$1" || fail "$3: '$2' not in $1: $(head -c 400 "$1")"
}
lacks() {  # FILE PATTERN DESCRIPTION
  checks=$((checks + 1))
  grep -q -- "$2" "$1" && fail "$3: '$2' found in $1"
}

new="$data/sample_bench.json"; flex="$data/sample_bench_flex.json"; old="$data/sample_bench_previous.json"
out=$work/report

have_gnuplot=1
if [ -z "${ATTN_GNUPLOT:-}" ] && ! command -v gnuplot >/dev/null; then have_gnuplot=0; fi

expect 0 "report --help" -- "$bin" report --help
contains "$work/out" "--previous" "help lists --previous"

if [ "$have_gnuplot" -eq 1 ]; then
expect 0 "report with previous" -- "$bin" report "$new" "$flex" --previous "$old" -o "$out" --title "Nightly sample"
contains "$work/out" "report: $out/report.html" "stdout names the HTML"
contains "$work/out" "13 charts" "stdout counts the charts"
contains "$work/out" "112 benchmarks: 88 ok, 19 OOM, 4 unsupported, 1 error" "stdout counts benchmarks"
contains "$work/out" "against previous: regressions 4, improvements 1, within noise 83, noise unknown 0, still failing 20, not run 0 (108 compared, 4 new, 0 gone" "stdout counts the verdicts"
contains "$work/out" "regression: train_step/flash/llama3-8b-mha/L:16384/T:7" "the planted regression is printed"
contains "$work/out" "newly OOM: train_step/flex/llama3-8b/L:16384/T:7" "newly OOM is printed"
contains "$work/out" "newly failing: train_step/floor/llama3-8b-mha/L:2048/T:1" "newly failing is printed"
contains "$work/out" "memory regression: train_step/flash/llama3-8b-mha/L:32768/T:7" "memory regression is printed"
lacks "$work/out" "L:8192/T:7  " "the 1 %-within-2 %-noise change is not flagged"
contains "$work/err" "drew 13 charts" "progress on stderr"
for f in report.html report.md charts/latency_llama3-8b-mha.svg charts/latency_llama3-8b-mha.gp \
         charts/latency_llama3-8b-mha.dat charts/memory_llama3-8b.svg charts/tflops_llama3-8b.svg \
         charts/pct_gemm_llama3-8b.svg charts/overhead_llama3-8b-mha.svg charts/overhead_T_llama3-8b-mha.svg \
         charts/spread_llama3-8b-mha.svg; do
  checks=$((checks + 1))
  [ -s "$out/$f" ] || fail "missing or empty: $f"
done
# The full listings as CSV: a header and one line per benchmark (per compared benchmark).
checks=$((checks + 1))
[ "$(wc -l <"$out/benchmarks.csv")" -eq 113 ] || fail "benchmarks.csv: expected 113 lines (header + 112), found $(wc -l <"$out/benchmarks.csv")"
checks=$((checks + 1))
[ "$(wc -l <"$out/changes.csv")" -eq 109 ] || fail "changes.csv: expected 109 lines (header + 108), found $(wc -l <"$out/changes.csv")"
contains "$out/benchmarks.csv" "^benchmark,status,median,stddev,cv,reps,min,max,TFLOP/s,% GEMM,peak GiB,compile s" "benchmarks.csv header"
contains "$out/changes.csv" "^train_step/flash/llama3-8b-mha/L:16384/T:7,.*,regression," "changes.csv has the planted regression"
contains "$out/report.html" '<a href="changes.csv">changes.csv</a>' "the page links the full comparison"
checks=$((checks + 1))
leftovers=$(find "$out" -name '*.tmp*' -o -name '*.stderr' | head -3)
[ -z "$leftovers" ] || fail "temporary files left: $leftovers"
checks=$((checks + 1))
[ "$(grep -c '<svg' "$out/report.html")" -eq 13 ] || fail "report.html does not inline 13 SVG charts"
contains "$out/report.html" "<title>Nightly sample</title>" "--title is used"
for external in '<script' '<link' '<img' 'src=' 'href="http' '@import'; do
  lacks "$out/report.html" "$external" "report.html is self-contained"
done
contains "$out/report.md" "^## Headline" "Markdown headline"
contains "$out/report.md" "^## Changes against the previous run" "Markdown change table"
contains "$out/report.md" "| train_step/flash/llama3-8b-mha/L:16384/T:7 | .* | \*\*regression\*\* |" "Markdown flags the regression"
contains "$out/report.md" "TTT overhead (flash / floor)" "Markdown overhead table"
contains "$out/report.md" "^## flex compile time" "Markdown compile-time table"
contains "$out/charts/latency_llama3-8b-mha.svg" "sdpa OOM" "OOM annotated on the latency chart"
contains "$out/charts/memory_llama3-8b-mha.svg" "flex OOM" "OOM annotated on the memory chart"
# The chart sources re-run by hand.
checks=$((checks + 1))
(cd "$out/charts" && gnuplot -e 'outfile="again.svg"' latency_llama3-8b-mha.gp && [ -s again.svg ]) \
  || fail "the .gp source does not re-run"

expect 1 "--fail-on-regression" -- "$bin" report "$new" "$flex" --previous "$old" -o "$work/r2" --fail-on-regression -q
checks=$((checks + 1))
[ -s "$work/err" ] && fail "-q still printed on stderr: $(head -c 200 "$work/err")"
fi  # have_gnuplot
# A looser rule drops the time and memory regressions; a newly failing benchmark stays flagged.
expect 1 "--fail-on-regression with a looser rule" -- "$bin" report "$new" --previous "$old" -o "$work/r3" \
  --fail-on-regression --noise-factor 50 --min-change 20 --no-charts
contains "$work/out" "against previous: regressions 1," "only the newly failing benchmark is flagged"
contains "$work/out" "newly failing: train_step/floor/llama3-8b-mha/L:2048/T:1" "and it is printed"
expect 0 "no regression without --fail-on-regression" -- "$bin" report "$new" --previous "$old" -o "$work/r3" --no-charts
expect 0 "previous as a comma list" -- "$bin" report "$new" "$flex" --previous "$old,$flex" -o "$work/r4" --no-charts
contains "$work/err" "previous run: 109 benchmarks" "both previous files are read (merged)"
expect 0 "a positional after --previous OLD is a result file" -- "$bin" report "$new" --previous "$old" "$flex" \
  -o "$work/r4" --no-charts
contains "$work/out" "^112 benchmarks" "the flex file joined the results"
expect 0 "no previous" -- "$bin" report "$new" -o "$work/r5" --no-charts
lacks "$work/out" "against previous" "no comparison without --previous"
lacks "$work/r5/report.md" "Changes against" "no change table without --previous"

# The page's contract (no gnuplot needed): the verdict first, failures grouped, one time format,
# no absolute path, and the harness's own speed beside the kernels'.
ttv="$data/sample_time_to_verdict.json"; ttv_old="$data/sample_time_to_verdict_previous.json"
# Run from $work, outside the repository, into a folder four levels below it: neither the output
# folder nor the current directory is near the inputs, wherever the repository and $work lie
# (with $work/page, a clone at /tmp/ci would be two folders up: "../../ci/...").
page_dir=$work/far/from/the/inputs
expect 0 "report with the harness's timing" -- env -C "$work" "$bin" report "$new" "$flex" --previous "$old,$ttv_old" \
  --harness-timing "$ttv" -o "$page_dir" --no-charts
contains "$work/out" "^time to a verdict (llama3-8b, L 4096, B 2, t 6, pad 0,512, cuda: sdpa,flash): 73.5 s" "stdout gives the time to a verdict"
contains "$work/out" "; reference slower: 40.7 -> 55.0 s" "the slower harness step is printed"
contains "$work/out" "; generate peak memory larger: 1 -> 1.5 GiB" "the larger harness step is printed"
lacks "$work/out" "run slower" "a step slower within its repetitions' range is not flagged"
page_md=$page_dir/report.md page_html=$page_dir/report.html
checks=$((checks + 1))  # the verdict is the page's first paragraph, one line per preset
verdict=$(sed -n '3,6p' "$page_md")
expected_verdict='- **llama3-8b-mha**, training step at T 7: flash 1.19× floor (±1.4 %) at 32K, 1.44× (±1.4 %) at 1K.
  sdpa 4.12× flash (±1.4 %) at 4K, OOM at L ≥ 8K; flex 1.46× flash (±1.4 %) at 16K, OOM at L ≥ 32K.
- **llama3-8b**, training step at T 7: flash 1.19× floor (±1.4 %) at 32K, 1.45× (±1.4 %) at 1K.
  sdpa 4.11× flash (±1.4 %) at 4K, OOM at L ≥ 8K; flex 1.33× flash (±1.4 %) at 8K, OOM at L ≥ 16K.'
[ "$verdict" = "$expected_verdict" ] || fail "report.md does not open with the verdict lines: found '$verdict'"
checks=$((checks + 1))
first_table=$(grep -n -m1 '<table>' "$page_html" | cut -d: -f1)
verdict_at=$(grep -n -m1 '<section class="verdict" id="verdict">' "$page_html" | cut -d: -f1)
[ -n "$verdict_at" ] && [ -n "$first_table" ] && [ "$verdict_at" -lt "$first_table" ] \
  || fail "report.html: the verdict (line '$verdict_at') must come before the first table (line '$first_table')"
contains "$page_html" '<p><b>llama3-8b-mha</b>, training step at T 7: flash 1.19× floor (±1.4 %) at 32K' "the HTML verdict"
contains "$page_md" '^| llama3-8b-mha | 7 | 32K | 714.5 | 602.4 (floor) | 1.19× ±1.4 % | \*\*OOM\*\* | \*\*OOM\*\* | 8.00 |$' "the compact headline"
# Out-of-memory benchmarks: one line per group, not 19 rows with raw messages.
contains "$page_md" '^- sdpa: OOM at L ≥ 8K (train step; llama3-8b-mha at T 1/3/7; llama3-8b at T 7; 12 benchmarks): OOM: CUDA out of memory' "OOM grouped in report.md"
contains "$page_html" '<li>sdpa: OOM at L ≥ 8K (train step; llama3-8b-mha at T 1/3/7; llama3-8b at T 7; 12 benchmarks)' "OOM grouped in report.html"
checks=$((checks + 1))
[ "$(grep -c '^- [a-z]*: OOM at ' "$page_md")" -eq 5 ] || fail "report.md: expected 5 OOM groups (19 benchmarks), found $(grep -c '^- [a-z]*: OOM at ' "$page_md")"
lacks "$page_md" '^| train_step/sdpa/llama3-8b-mha/L:8192/T:7 | OOM' "no row per failed benchmark in report.md"
# One time format: every time stamp "YYYY-MM-DD HH:MM UTC" (the inputs spell "+00:00", "+0000" and "Z").
for f in "$page_md" "$page_html"; do
  checks=$((checks + 1))
  stamps=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}[^ <|,)]*( UTC)?' "$f")
  others=$(grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC$' <<<"$stamps")
  [ "$(grep -c . <<<"$stamps")" -ge 5 ] && [ -z "$others" ] \
    || fail "$f: expected every time stamp as 'YYYY-MM-DD HH:MM UTC' (5 or more), found: $(tr '\n' ';' <<<"$stamps")"
done
contains "$page_md" '`sample_bench_flex.json`: 28 benchmarks, torch 2.11.0+cu130, commit 9b7e31c05a2f, 2026-11-24 02:10 UTC' "flex's +0000 date in UTC"
# Relative paths: the inputs lie far from the output folder, so the pages name them alone.
lacks "$page_md" "$data" "no absolute input path in report.md"
lacks "$page_html" "$data" "no absolute input path in report.html"
lacks "$page_md" '`/' "no absolute path in report.md"
contains "$page_html" '<code>sample_bench.json</code>: 84 benchmarks' "the input named by its file name"
contains "$page_md" "^## The harness's own speed" "the harness's speed has a section"
contains "$page_md" '^| reference | 55.0 | 54.0–56.5 | 6.20 | 40.7 | +35.1 % | \*\*slower\*\* |' "the slower step in the table"
# The harness's slower steps count for --fail-on-regression; the benchmarks here compare with themselves.
expect 1 "--fail-on-regression with a slower harness step" -- "$bin" report "$new" --previous "$new,$ttv_old" \
  --harness-timing "$ttv" -o "$work/page2" --no-charts --fail-on-regression
contains "$work/out" "against previous: regressions 0," "no benchmark regression"
expect 0 "--fail-on-regression, the harness as fast as before" -- "$bin" report "$new" --previous "$new,$ttv" \
  --harness-timing "$ttv" -o "$work/page2" --no-charts --fail-on-regression
expect 0 "a time-to-verdict file among the results" -- "$bin" report "$new" "$ttv" --previous "$old,$ttv_old" \
  -o "$work/page3" --no-charts
contains "$work/out" "; reference slower: 40.7 -> 55.0 s" "taken as --harness-timing"
contains "$work/err" "read 84 benchmarks: 69 ok, 14 OOM, 1 error from 1 file(s)" "and not as benchmark JSON"
expect 2 "only time-to-verdict files as results" -- "$bin" report "$ttv" -o "$work/bad" --no-charts
contains "$work/err" "expected Google Benchmark JSON among the results, found only time-to-verdict files" "says what is missing"
expect 2 "--harness-timing given benchmark JSON" -- "$bin" report "$new" --harness-timing "$new" -o "$work/bad" --no-charts
contains "$work/err" 'sample_bench.json: expected "schema" as a string, found nothing' "names the file and what is missing"
expect 2 "--previous with only a time-to-verdict file" -- "$bin" report "$new" --previous "$ttv_old" -o "$work/bad" --no-charts
contains "$work/err" "found only time-to-verdict files" "says what --previous lacks"

# Gzipped result files (as the committed reports keep them) read as the plain ones: the same page.
gzip -c "$new" >"$work/new.json.gz"
gzip -c "$old" >"$work/old.json.gz"
expect 0 "gzipped results and previous" -- "$bin" report "$work/new.json.gz" --previous "$work/old.json.gz" \
  -o "$work/rgz" --no-charts -q
expect 0 "the same, plain" -- "$bin" report "$new" --previous "$old" -o "$work/rplain" --no-charts -q
checks=$((checks + 1))  # the pages differ only in the lines naming the input files
diff <(grep -v 'json' "$work/rgz/report.md") <(grep -v 'json' "$work/rplain/report.md") >"$work/gzdiff" ||
  fail "a gzipped input gives another page than the plain one: $(head -c 600 "$work/gzdiff")"
head -c 200 "$work/new.json.gz" >"$work/cut.json.gz"
expect 2 "a cut gzip file" -- "$bin" report "$work/cut.json.gz" -o "$work/bad" --no-charts
contains "$work/err" "cut.json.gz: a damaged gzip file" "names the damaged gzip file"

# Bad input: exit 2 and the message names the file and what is missing.
expect 2 "missing file" -- "$bin" report "$work/nope.json" -o "$work/bad"
contains "$work/err" "nope.json" "names the missing file"
echo '{"context": {}, "benchmarks": [' >"$work/broken.json"
expect 2 "not JSON" -- "$bin" report "$work/broken.json" -o "$work/bad"
contains "$work/err" "broken.json: not JSON" "names the broken file"
echo '{"context": {}, "runs": []}' >"$work/other.json"
expect 2 "not Google Benchmark JSON" -- "$bin" report "$new" "$work/other.json" -o "$work/bad"
contains "$work/err" "other.json: not Google Benchmark JSON: expected a \"benchmarks\" array" "says what is missing"
expect 2 "bad previous" -- "$bin" report "$new" --previous "$work/other.json" -o "$work/bad"
expect 2 "no -o" -- "$bin" report "$new"
expect 2 "no input" -- "$bin" report -o "$work/bad"
checks=$((checks + 1))
[ -e "$work/bad/report.html" ] && fail "bad input still wrote a report"

# No gnuplot: exit 2 with a clear message.
expect 2 "gnuplot missing" -- env ATTN_GNUPLOT= PATH=/nonexistent "$bin" report "$new" -o "$work/nognuplot"
contains "$work/err" "gnuplot not found" "says gnuplot is missing"
expect 0 "gnuplot missing but --no-charts" -- env PATH=/nonexistent "$bin" report "$new" -o "$work/nognuplot" --no-charts

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ] || exit 1
if [ "$have_gnuplot" -eq 0 ]; then
  echo "SKIP: gnuplot is not installed: the chart checks did not run (Debian: apt-get install gnuplot-nox)"
  exit 77
fi

#!/usr/bin/env bash
# Renders report pages in headless Chromium and checks (1) a screenshot of the sample report is a
# real page, not a blank one (perf_png_check.py: ink, colours, the chart colours), and (2) no page
# is wider than a 1400 px window: nothing makes the page scroll sideways.
#
# The width check. A report has no scripts (a self-contained, script-free page is part of its
# contract), so the test measures a copy: the page's HTML with one inline script appended before
# </body>, written to a temporary file that only this test opens. Chromium loads the copy with
# --window-size=1400,1000 and --dump-dom; the script, run after the whole page has been parsed
# (charts are inline SVG: nothing loads later), forces layout and appends a <pre> with
# document.documentElement.scrollWidth, clientWidth, window.innerWidth and up to five elements
# whose right edge passes the window without a scrolling box around them. The test requires
# innerWidth = 1400 (the window size took effect) and scrollWidth <= clientWidth (nothing sticks
# out). It proves it can fail on every run: a copy with a planted 3000 px wide element must be
# reported too wide, or the test fails.
#
# Pages checked: the sample report (reports/performance/tests/data, with --previous and --harness-timing),
# and the report of the committed H100 run (reports/h100/2026-11-24-nightly: 79 out-of-memory
# benchmarks) and H200 runs (reports/h200/2026-12-01-block0, and the sharded nightly run
# reports/h200/2026-12-01-nightly with its change table), remade from their JSON.
# Exit 77 (skipped) only when chromium or gnuplot is not installed.
# Usage: perf_report_render_test.sh PATH/TO/attn-harness DATA_DIR PNG_CHECK.py REPO_ROOT
set -u
bin=$1 data=$2 png_check=$3 root=$4
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (Debian: apt-get install chromium)"
  exit 77
fi
if [ -z "${ATTN_GNUPLOT:-}" ] && ! command -v gnuplot >/dev/null; then
  echo "SKIP: gnuplot is not installed: no charts to render (Debian: apt-get install gnuplot-nox)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
chrome() {  # chromium in headless mode with a throw-away profile; extra arguments follow
  timeout 180 "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$work/profile" "$@"
}

# measure PAGE.html COPY.html [PLANT]: writes the copy with the measuring script (and, with PLANT,
# a 3000 px wide element) and prints the script's line: "scrollWidth=N clientWidth=N innerWidth=N wide=[...]".
measure() {
  local page=$1 copy=$2 plant=${3:-}
  /usr/bin/python3 - "$page" "$copy" "$plant" <<'PY'
import sys
page, copy, plant = sys.argv[1], sys.argv[2], sys.argv[3]
html = open(page, encoding="utf-8").read()
probe = """<script>
(function () {
  var d = document.documentElement, vw = d.clientWidth, wide = [];
  function scrolls(e) {
    for (var p = e.parentElement; p; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  }
  var all = document.body.getElementsByTagName("*");
  for (var i = 0; i < all.length && wide.length < 5; i++) {
    var r = all[i].getBoundingClientRect();
    if (r.right > vw + 0.5 && !scrolls(all[i]))
      wide.push(all[i].tagName.toLowerCase() + (all[i].id ? "#" + all[i].id : "") + " right=" + Math.round(r.right));
  }
  var out = document.createElement("pre");
  out.id = "attn-width-check";
  out.textContent = "scrollWidth=" + d.scrollWidth + " clientWidth=" + vw + " innerWidth=" + window.innerWidth +
                    " wide=" + JSON.stringify(wide);
  document.body.appendChild(out);
})();
</script>"""
if plant:
    probe = '<div id="planted" style="width:3000px">planted</div>\n' + probe
if "</body>" not in html:
    sys.exit("no </body> in " + page)
open(copy, "w", encoding="utf-8").write(html.replace("</body>", probe + "\n</body>", 1))
PY
  chrome --window-size=1400,1000 --dump-dom "file://$copy" 2>"$copy.log" |
    sed -n 's/.*<pre id="attn-width-check">\([^<]*\)<\/pre>.*/\1/p' | sed 's/&quot;/"/g'
}

# fits LINE: exit 0 when the measured page fits a 1400 px window, 1 when it is too wide, 2 when
# the measurement is missing or not at 1400 px.
fits() {
  local line=$1 sw cw iw
  sw=$(sed -n 's/.*scrollWidth=\([0-9]*\).*/\1/p' <<<"$line")
  cw=$(sed -n 's/.*clientWidth=\([0-9]*\).*/\1/p' <<<"$line")
  iw=$(sed -n 's/.*innerWidth=\([0-9]*\).*/\1/p' <<<"$line")
  [ -n "$sw" ] && [ -n "$cw" ] && [ "$iw" = 1400 ] || return 2
  [ "$sw" -le "$cw" ]
}

# check_width LABEL PAGE.html: the page fits, and the same page with a planted wide element does not.
check_width() {
  local label=$1 page=$2 line rc
  line=$(measure "$page" "$work/$label-copy.html")
  fits "$line"; rc=$?
  if [ "$rc" -eq 2 ]; then fail "$label: no width measured at 1400 px (expected 'scrollWidth=.. innerWidth=1400', found '$line'); $(tail -3 "$work/$label-copy.html.log")"
  elif [ "$rc" -ne 0 ]; then fail "$label: the page is wider than the 1400 px window: expected scrollWidth <= clientWidth, found $line"
  else echo "ok: $label fits 1400 px ($line)"; fi
  line=$(measure "$page" "$work/$label-planted.html" plant)
  fits "$line"; rc=$?
  [ "$rc" -eq 1 ] || fail "$label: the width check did not catch a planted 3000 px element (expected too wide, found '$line')"
}

# The sample report: screenshot, then width.
"$bin" report "$data/sample_bench.json" "$data/sample_bench_flex.json" \
  --previous "$data/sample_bench_previous.json,$data/sample_time_to_verdict_previous.json" \
  --harness-timing "$data/sample_time_to_verdict.json" -o "$work/report" -q >/dev/null \
  || { echo "FAIL: attn-harness report failed on the sample"; exit 1; }
shot=${ATTN_PERF_SCREENSHOT:-$work/shot.png}
rm -f "$shot"
chrome --screenshot="$shot" --window-size=1400,2400 "file://$work/report/report.html" >"$work/chromium.log" 2>&1
rc=$?
if [ ! -s "$shot" ]; then
  echo "FAIL: chromium (exit $rc) wrote no screenshot"; tail -20 "$work/chromium.log"; exit 1
fi
size=$(stat -c %s "$shot")
[ "$size" -gt 20000 ] || fail "screenshot is only $size bytes: blank page?"
/usr/bin/python3 "$png_check" "$shot" || fail "the screenshot check failed"
check_width sample "$work/report/report.html"

# The committed runs, remade from their JSON with this build.
h100=$root/reports/h100/2026-11-24-nightly
gzip -dc "$h100/attn_bench.json.gz" >"$work/attn_bench.json" || fail "cannot unpack $h100/attn_bench.json.gz"
if "$bin" report "$work/attn_bench.json" "$h100/flex_mha.json" "$h100/flex_mha_step.json" "$h100/flex_gqa.json" \
     -o "$work/h100" -q >/dev/null; then
  check_width h100 "$work/h100/report.html"
else
  fail "attn-harness report failed on the H100 run"
fi
h200=$root/reports/h200/2026-12-01-block0
if "$bin" report "$h200/attn_bench_train_step.json" "$h200/attn_bench_bwd.json" -o "$work/h200" -q >/dev/null; then
  check_width h200 "$work/h200/report.html"
else
  fail "attn-harness report failed on the H200 run"
fi
# The H200 nightly run: three shards of the whole grid, time to a verdict, a change table.
night=$root/reports/h200/2026-12-01-nightly
mkdir -p "$work/night_in"
for i in 1 2 3; do
  gzip -dc "$night/attn_bench.shard-$i-of-3.json.gz" >"$work/night_in/attn_bench.shard-$i-of-3.json" ||
    fail "cannot unpack $night/attn_bench.shard-$i-of-3.json.gz"
done
if "$bin" report "$work"/night_in/attn_bench.shard-*.json "$night"/flex.shard-*.json "$night/time_to_verdict.json" \
     --previous "$h200/attn_bench_train_step.json,$h200/attn_bench_bwd.json" -o "$work/night" -q >/dev/null; then
  check_width h200-nightly "$work/night/report.html"
else
  fail "attn-harness report failed on the H200 nightly run"
fi
# The second night against the first, with the noise file (the largest change table).
night2=$root/reports/h200/2026-12-01-nightly-2
if "$bin" report "$night2"/attn_bench.shard-*.json.gz "$night2"/flex.shard-*.json "$night2/time_to_verdict.json" \
     --previous "$(ls "$night"/attn_bench.shard-*.json.gz "$night"/flex.shard-*.json "$night/time_to_verdict.json" | paste -sd, -)" \
     --noise "$root/reports/h200/noise.json" -o "$work/night2" -q >/dev/null; then
  check_width h200-night2 "$work/night2/report.html"
else
  fail "attn-harness report failed on the second H200 night"
fi

[ "$failures" -eq 0 ] || exit 1
echo "ok: $shot ($size bytes); every page fits 1400 px and the check caught each planted element"

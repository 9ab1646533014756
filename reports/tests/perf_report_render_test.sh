#!/usr/bin/env bash
# Renders the sample report in headless Chromium and checks the screenshot is a real page, not
# a blank one. Exit 77 (skipped) only when chromium is not installed.
# Usage: perf_report_render_test.sh PATH/TO/attn-harness DATA_DIR PNG_CHECK.py
set -u
bin=$1 data=$2 png_check=$3
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
"$bin" report "$data/sample_bench.json" "$data/sample_bench_flex.json" --previous "$data/sample_bench_previous.json" \
  -o "$work/report" -q >/dev/null || { echo "FAIL: attn-harness report failed"; exit 1; }
shot=${ATTN_PERF_SCREENSHOT:-$work/shot.png}
rm -f "$shot"
timeout 180 "$browser" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --user-data-dir="$work/profile" --screenshot="$shot" --window-size=1400,2400 \
  "file://$work/report/report.html" >"$work/chromium.log" 2>&1
rc=$?
if [ ! -s "$shot" ]; then
  echo "FAIL: chromium (exit $rc) wrote no screenshot"; tail -20 "$work/chromium.log"; exit 1
fi
size=$(stat -c %s "$shot")
[ "$size" -gt 20000 ] || { echo "FAIL: screenshot is only $size bytes: blank page?"; exit 1; }
/usr/bin/python3 "$png_check" "$shot" || exit 1
echo "ok: $shot ($size bytes)"

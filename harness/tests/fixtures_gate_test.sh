#!/usr/bin/env bash
# The committed fixtures are bundles holding outputs recorded on a GPU (scripts/record_fixtures.sh).
# Here they are unpacked and re-judged against the fp64 reference computed on this machine, so
# a change that breaks agreement with real GPU numbers fails without a GPU.
# Usage: fixtures_gate_test.sh PATH/TO/attn-harness FIXTURE_DIR
set -u
bin=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! ls "$src"/*.h5 >/dev/null 2>&1; then
  echo "FAIL: no fixtures in $src"
  exit 1
fi
failures=0
run() {
  echo "+ attn-harness $*"
  "$bin" "$@" || { echo "FAIL: attn-harness $*"; failures=$((failures + 1)); }
}
# Unpacked into folders, so the reference is computed once and cached there (never in the
# repository).
cases=()
for f in "$src"/*.h5; do
  name=$(basename "$f" .h5)
  run unpack "$f" -o "$work/$name"
  cases+=("$work/$name")
done
run gate "${cases[@]}" --candidate flash --baseline sdpa -q
run gate "${cases[@]}" --candidate flash-fa2 --baseline sdpa -q
run gate "${cases[@]}" --candidate flex --baseline sdpa -q
# The GPU's flash against the reference alone, with no baseline: absolute bf16 tolerances.
run gate "${cases[@]}" --candidate flash --profile abs-bf16 -q
# The bundles themselves are judged too (read-only: the reference is computed, not cached).
run gate "$src"/*.h5 --candidate flash --baseline sdpa -q
echo "$((5 + ${#cases[@]} - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]

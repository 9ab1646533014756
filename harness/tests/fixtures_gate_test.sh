#!/usr/bin/env bash
# The committed fixtures hold outputs recorded on an H100 (scripts/record_fixtures.sh). Here
# they are re-judged against the fp64 reference computed on this machine, so a change that
# breaks agreement with real GPU numbers fails without a GPU.
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
cp "$src"/*.h5 "$work"/  # the reference is cached in the copies, never in the repository
failures=0
run() {
  echo "+ attn-harness $*"
  "$bin" "$@" || { echo "FAIL: attn-harness $*"; failures=$((failures + 1)); }
}
run gate "$work"/*.h5 --candidate flash --baseline sdpa -q
run gate "$work"/*.h5 --candidate flex --baseline sdpa -q
# The GPU's flash against the reference alone, with no baseline: absolute bf16 tolerances.
run gate "$work"/*.h5 --candidate flash --profile abs-bf16 -q
echo "$((3 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]

#!/usr/bin/env bash
# End-to-end checks of the attn-harness CLI: real binary, real HDF5 files, real exit codes.
# Usage: cli_test.sh PATH/TO/attn-harness
set -u
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0; checks=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# expect RC DESCRIPTION -- COMMAND...: runs COMMAND, checks its exit code, keeps its output.
expect() {
  local want=$1 what=$2; shift 3
  checks=$((checks + 1))
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  [ "$rc" -eq "$want" ] || fail "$what: exit $rc, expected $want; stderr: $(head -c 400 "$work/err")"
}
contains() {  # FILE PATTERN DESCRIPTION
  checks=$((checks + 1))
  grep -q -- "$2" "$1" || fail "$3: '$2' not in $(basename "$1"): $(head -c 400 "$1")"
}

expect 0 "top-level --help" -- "$bin" --help
contains "$work/out" "generate" "help lists generate"
for sub in generate reference info; do
  expect 0 "$sub --help" -- "$bin" "$sub" --help
done
expect 2 "no subcommand" -- "$bin"
expect 2 "unknown option" -- "$bin" info --no-such-option x

case=$work/case.h5
expect 0 "generate" -- "$bin" generate -o "$case" --preset llama3-8b --heads 4 --kv-heads 2 \
  --seq 96 --ttt-step 2 --batch 2 --pad 0,13 --seed 7
[ -f "$case" ] || fail "generate wrote no file"
ls "$work" | grep -q tmp && fail "generate left a temporary file"
expect 0 "info" -- "$bin" info "$case"
contains "$work/out" "valid query rows \[94, 81\]" "info shows valid rows (L - pad - t)"
contains "$work/out" "reference none" "info before reference"
expect 0 "reference" -- "$bin" reference "$case"
contains "$work/out" "computed" "reference computes the first time"
contains "$work/err" "done in" "reference reports progress on stderr"
expect 0 "reference again" -- "$bin" reference "$case"
contains "$work/out" "is current" "the second call uses the cache"
expect 0 "reference --force" -- "$bin" reference "$case" --force --form dense -q
contains "$work/out" "computed" "--force recomputes"
expect 0 "info --json" -- "$bin" info "$case" --json -
contains "$work/out" '"state": "current"' "info --json shows a current reference"

# The same seed gives the same bytes of input; another seed does not.
expect 0 "generate again" -- "$bin" generate -o "$work/again.h5" --preset llama3-8b --heads 4 \
  --kv-heads 2 --seq 96 --ttt-step 2 --batch 2 --pad 0,13 --seed 7
expect 0 "hash 1" -- "$bin" info "$case" --json -; h1=$(grep input_hash "$work/out")
expect 0 "hash 2" -- "$bin" info "$work/again.h5" --json -; h2=$(grep input_hash "$work/out")
checks=$((checks + 1)); [ -n "$h1" ] && [ "$h1" = "$h2" ] || fail "same seed, different inputs: $h1 vs $h2"

# Bad input: clear message, exit code 2, never a crash.
expect 2 "missing file" -- "$bin" info "$work/nope.h5"
contains "$work/err" "nope.h5" "missing file is named"
echo "not hdf5" >"$work/text.h5"
expect 2 "not HDF5" -- "$bin" reference "$work/text.h5"
contains "$work/err" "not an HDF5 file" "non-HDF5 file is called so"
head -c 20000 "$case" >"$work/truncated.h5"
expect 2 "truncated" -- "$bin" info "$work/truncated.h5"
contains "$work/err" "truncated.h5" "truncated file is named"
expect 2 "bad preset" -- "$bin" generate -o "$work/x.h5" --preset nope
contains "$work/err" "llama3-8b" "bad preset lists the known ones"
expect 2 "bad GQA" -- "$bin" generate -o "$work/x.h5" --preset custom --heads 6 --kv-heads 4 --head-dim 64
expect 2 "t >= L" -- "$bin" generate -o "$work/x.h5" --seq 4 --ttt-step 4
expect 2 "bad dtype" -- "$bin" generate -o "$work/x.h5" --dtype int8
contains "$work/err" "bf16" "bad dtype names the accepted ones"
[ -e "$work/x.h5" ] && fail "a failed generate left $work/x.h5"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]

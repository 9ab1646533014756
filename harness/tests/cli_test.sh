#!/usr/bin/env bash
# End-to-end checks of the attn-harness CLI: real binary, real HDF5 files, real exit codes.
# Usage: cli_test.sh PATH/TO/attn-harness
set -u
bin=$1
. "$(dirname "$0")/check_lib.sh"

expect 0 "top-level --help" -- "$bin" --help
contains "$work/out" "generate" "help lists generate"
for sub in generate reference info; do
  expect 0 "$sub --help" -- "$bin" "$sub" --help
done
expect 2 "no subcommand" -- "$bin"
expect 2 "unknown option" -- "$bin" info --no-such-option x

case=$work/case
expect 0 "generate" -- "$bin" generate -o "$case" --preset llama3-8b --heads 4 --kv-heads 2 \
  --seq 96 --ttt-step 2 --batch 2 --pad 0,13 --seed 7
[ -f "$case/inputs.h5" ] || fail "generate wrote no inputs.h5"
ls -a "$case" | grep -q tmp && fail "generate left a temporary file"
expect 2 "generate -o x.h5 without --bundle" -- "$bin" generate -o "$work/x.h5" --seq 16
contains "$work/err" "a case is a folder" "-o x.h5 says a case is a folder"
contains "$work/err" "bundle" "-o x.h5 names --bundle"
expect 0 "generate --bundle" -- "$bin" generate -o "$work/bundle.h5" --bundle --preset llama3-8b \
  --heads 4 --kv-heads 2 --seq 96 --ttt-step 2 --batch 2 --pad 0,13 --seed 7 -q
[ -f "$work/bundle.h5" ] || fail "generate --bundle wrote no file"
expect 0 "info" -- "$bin" info "$case"
contains "$work/out" "valid query rows \[94, 81\]" "info shows valid rows (L - pad - t)"
grep -Eq "reference +none" "$work/out" || fail "info before reference: no 'reference none'"
expect 0 "reference" -- "$bin" reference "$case"
contains "$work/out" "computed" "reference computes the first time"
contains "$work/err" "done in" "reference reports progress on stderr"
expect 0 "reference again" -- "$bin" reference "$case"
contains "$work/out" "is current" "the second call uses the cache"
expect 0 "reference --force" -- "$bin" reference "$case" --force --form dense -q
contains "$work/out" "computed" "--force recomputes"
expect 0 "info --json" -- "$bin" info "$case" --json -
contains "$work/out" '"state": "current"' "info --json shows a current reference"
contains "$work/out" '"schema": "attn-harness.info/2"' "info --json names its schema"
expect 0 "info --verify" -- "$bin" info "$case" --verify
contains "$work/out" "verified from the values" "info --verify re-hashes the inputs"

# A bundle is read, and not modified: the reference is computed and the reason it is not
# cached is said once, truthfully.
expect 0 "reference of a bundle" -- "$bin" reference "$work/bundle.h5"
contains "$work/out" "not cached" "a bundle's reference is not cached"
contains "$work/out" "single-file bundle" "the reason is the bundle"
[ "$(grep -c "not cached" "$work/out" "$work/err" | awk -F: '{s+=$2} END {print s}')" -le 2 ] || fail "the reason is repeated"

# A folder this process cannot write: computed, not cached, said so (as root too: act as nobody).
ro=$work/ro
cp -r "$case" "$ro"; rm -f "$ro/reference.h5"; chmod 555 "$ro"
if [ "$(id -u)" -eq 0 ]; then as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"; chmod 755 "$work"; chmod -R a+r "$ro"; else as_nobody=""; fi
expect 0 "reference in a read-only folder" -- $as_nobody "$bin" reference "$ro"
contains "$work/out" "not cached: cannot write in $ro" "the read-only folder is named"
contains "$work/out" "Permission denied" "and the system's reason"
[ -e "$ro/reference.h5" ] && fail "a read-only folder was written"
chmod 755 "$ro"

# The same seed gives the same bytes of input; another seed does not.
expect 0 "generate again" -- "$bin" generate -o "$work/again" --preset llama3-8b --heads 4 \
  --kv-heads 2 --seq 96 --ttt-step 2 --batch 2 --pad 0,13 --seed 7
expect 0 "hash 1" -- "$bin" info "$case" --json -; h1=$(grep '^  "input_hash"' "$work/out")
expect 0 "hash 2" -- "$bin" info "$work/again" --json -; h2=$(grep '^  "input_hash"' "$work/out")
checks=$((checks + 1)); [ -n "$h1" ] && [ "$h1" = "$h2" ] || fail "same seed, different inputs: $h1 vs $h2"

# SIGTERM while a large case is being written: the process dies of the signal and leaves no
# temporary file; inputs.h5 is either absent or whole.
"$bin" generate -o "$work/big" --seq 8192 --batch 2 --ttt-step 6 -q &
pid=$!
for _ in $(seq 300); do  # until the temporary file exists (the write has begun), at most 30 s
  ls -a "$work/big" 2>/dev/null | grep -q '\.tmp\.' && break
  sleep 0.1
done
saw_temp=$(ls -a "$work/big" 2>/dev/null | grep -c '\.tmp\.')
kill -TERM "$pid" 2>/dev/null
wait "$pid"; rc=$?
checks=$((checks + 1))
ls -a "$work/big" 2>/dev/null | grep -q '\.tmp\.' && fail "SIGTERM left a temporary file: $(ls -a "$work/big")"
if [ -f "$work/big/inputs.h5" ]; then
  expect 0 "a case written before the signal is whole" -- "$bin" info "$work/big" --verify
fi
[ "$rc" -eq 143 ] || [ "$rc" -eq 0 ] || fail "generate under SIGTERM: exit $rc, expected 143 (or 0 if it finished first)"
[ "$saw_temp" -ge 1 ] && [ "$rc" -eq 143 ] && echo "  (SIGTERM arrived while the temporary file was being written)"

# Two writers of different producers at once: neither loses the other's record.
if [ -x "$(dirname "$bin")/attn-harness-torch" ]; then
  "$bin" run "$case" --backend sdpa -q >/dev/null 2>&1 & p1=$!
  "$bin" run "$case" --backend flash -q >/dev/null 2>&1 & p2=$!
  wait "$p1"; r1=$?; wait "$p2"; r2=$?
  checks=$((checks + 1)); [ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] || fail "concurrent runs: exit $r1, $r2"
  expect 0 "info after concurrent runs" -- "$bin" info "$case"
  grep -Eq "flash +current" "$work/out" && grep -Eq "sdpa +current" "$work/out" || fail "a concurrent writer's record was lost: $(cat "$work/out")"
  # Editing the inputs makes the records stale: reported, never judged.
  "$bin" generate -o "$case" --preset llama3-8b --heads 4 --kv-heads 2 --seq 96 --ttt-step 2 --batch 2 --pad 0,14 --seed 7 -q
  expect 0 "info after new inputs" -- "$bin" info "$case"
  grep -Eq "flash +stale" "$work/out" || fail "a record of other inputs is not stale: $(cat "$work/out")"
  expect 2 "gate refuses stale outputs" -- "$bin" gate "$case" -q
  contains "$work/out" "is stale" "gate says the candidate is stale"
  contains "$work/out" "attn-harness run $case --backend flash" "and names the command that records it again"
fi

# Bad input: clear message, exit code 2, never a crash.
expect 2 "missing case" -- "$bin" info "$work/nope"
contains "$work/err" "nope" "missing case is named"
echo "not hdf5" >"$work/text.h5"
expect 2 "not HDF5" -- "$bin" reference "$work/text.h5"
contains "$work/err" "not an HDF5 file" "non-HDF5 file is called so"
mkdir -p "$work/trunc"
head -c 20000 "$case/inputs.h5" >"$work/trunc/inputs.h5"
expect 2 "truncated" -- "$bin" gate "$work/trunc"
grep -q "trunc/inputs.h5" "$work/out" "$work/err" || fail "truncated file is not named"
expect 2 "bad preset" -- "$bin" generate -o "$work/x" --preset nope
contains "$work/err" "llama3-8b" "bad preset lists the known ones"
expect 2 "bad GQA" -- "$bin" generate -o "$work/x" --preset custom --heads 6 --kv-heads 4 --head-dim 64
expect 2 "t >= L" -- "$bin" generate -o "$work/x" --seq 4 --ttt-step 4
expect 2 "bad dtype" -- "$bin" generate -o "$work/x" --dtype int8
contains "$work/err" "bf16" "bad dtype names the accepted ones"
expect 2 "absurd L" -- "$bin" generate -o "$work/x" --seq 4503599627370496
contains "$work/err" "seq must be in .1, 1048576" "an absurd L names the limit"
expect 2 "huge L" -- "$bin" generate -o "$work/x" --seq 1099511627776
contains "$work/err" "1048576" "2^40 names the limit too"
[ -e "$work/x" ] && fail "a failed generate left $work/x"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]

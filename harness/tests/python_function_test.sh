#!/usr/bin/env bash
# run --backend py:PATH.py:FUNC through the real binary and the configured Python (with torch):
# a correct function is recorded with its provenance and passes the gate, a planted bug fails
# it, and every way a function can go wrong is an input error (exit 2) that names what was
# expected and what was found, with nothing recorded.
# Usage: python_function_test.sh PATH/TO/attn-harness SOURCE_DIR
set -u
bin=$1
root=$2
fns=$root/harness/tests/data/user_functions.py
. "$root/harness/tests/check_lib.sh"
absent() {  # PRODUCER DESCRIPTION
  checks=$((checks + 1))
  [ ! -e "$case/outputs/$1.h5" ] || fail "$2: outputs/$1.h5 was recorded"
}
case=$work/c
"$bin" generate -o "$case" -q --preset llama3-8b --heads 8 --kv-heads 2 --seq 96 --ttt-step 2 --batch 2 --pad 0,13 --seed 3
expect 0 "record the baseline" -- "$bin" run "$case" --backend sdpa -q

expect 0 "a correct function is recorded" -- "$bin" run "$case" --backend "py:$fns:ttt_attention"
contains "$work/out" "ttt_attention (cpu): recorded as" "the run says where it recorded"
expect 0 "it passes the gate" -- "$bin" gate "$case" --candidate ttt_attention
expect 0 "info lists it" -- "$bin" info "$case" --json "$work/info.json"
checks=$((checks + 1))
/usr/bin/python3 - "$work/info.json" "$fns" <<'PY' || fail "provenance of the recorded function"
import hashlib, json, sys
info = json.load(open(sys.argv[1]))
p = info["producers"]["ttt_attention"]
prov = p["provenance"]
assert prov["function"] == "ttt_attention" and prov["file"].endswith("user_functions.py"), prov
assert prov["file_sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest(), prov
assert prov["device"] == "cpu" and prov["torch_version"].startswith("2."), prov
assert set(p["tensors"]) >= {"out", "lse", "dq", "dk0", "dk2", "dv2"}, p["tensors"]
PY
expect 0 "--as names the producer" -- "$bin" run "$case" --backend "py:$fns:out_only" --as mine
expect 0 "out alone is judged" -- "$bin" gate "$case" --candidate mine
expect 0 "the planted GQA bug is recorded" -- "$bin" run "$case" --backend "py:$fns:ttt_attention_tiled_gqa" --as tiled
expect 1 "and fails the gate" -- "$bin" gate "$case" --candidate tiled
contains "$work/out" "^      out: err_c" "the gate names the failing tensor"
expect 0 "a forward-only function" -- "$bin" run "$case" --backend "py:$fns:forward_only"
contains "$work/err" "forward only, no gradients recorded" "says it recorded the forward only"
expect 0 "a function that ignores a block" -- "$bin" run "$case" --backend "py:$fns:ignores_newest_block"
contains "$work/err" "no gradient reached dk2, dv2" "names the inputs no gradient reached"
expect 1 "and fails the gate" -- "$bin" gate "$case" --candidate ignores_newest_block

expect 2 "a function that raises" -- "$bin" run "$case" --backend "py:$fns:raises"
contains "$work/err" "user_functions.py:raises raised RuntimeError: shapes do not line up in my kernel" "names the function and its exception"
contains "$work/err" "in helper_that_fails" "shows where in the user's code"
absent raises "nothing recorded after an exception"
expect 2 "wrong shape" -- "$bin" run "$case" --backend "py:$fns:wrong_shape"
contains "$work/err" "out: expected shape \[2, 8, 96, 128\], found \[2, 8, 95, 128\]" "expected and found shapes"
absent wrong_shape "nothing recorded after a wrong shape"
expect 2 "wrong dtype" -- "$bin" run "$case" --backend "py:$fns:wrong_dtype"
contains "$work/err" "out: expected dtype bfloat16, found float32" "expected and found dtypes"
expect 2 "wrong lse shape" -- "$bin" run "$case" --backend "py:$fns:wrong_lse_shape"
contains "$work/err" "lse: expected shape \[2, 8, 96\], found \[2, 8, 96, 1\]" "lse shapes"
expect 2 "three return values" -- "$bin" run "$case" --backend "py:$fns:three_things"
contains "$work/err" "returned a tuple of 3 items: expected out, or (out, lse)" "what it returned"
expect 2 "not a tensor" -- "$bin" run "$case" --backend "py:$fns:not_a_tensor"
contains "$work/err" "expected a torch.Tensor of shape \[2, 8, 96, 128\], found list" "type"
expect 2 "backward fails" -- "$bin" run "$case" --backend "py:$fns:backward_fails"
contains "$work/err" "its backward raised ValueError: my backward is not written yet" "backward failure"
absent backward_fails "nothing recorded after a failed backward"
expect 2 "bad invalid-row declaration" -- "$bin" run "$case" --backend "py:$fns:bad_declaration"
contains "$work/err" "expected 'zeros' or 'unspecified', found 'mostly zeros'" "declaration"
expect 2 "missing function" -- "$bin" run "$case" --backend "py:$fns:nope"
contains "$work/err" "no function 'nope' (callables defined there: " "lists the callables"
expect 2 "module fails to import" -- "$bin" run "$case" --backend "py:$root/harness/tests/data/broken_import.py:f"
contains "$work/err" "importing it raised ModuleNotFoundError" "import failure"
expect 2 "missing file" -- "$bin" run "$case" --backend "py:$work/none.py:f"
contains "$work/err" "no such Python file" "missing file"
expect 2 "malformed backend" -- "$bin" run "$case" --backend "py:justone"
contains "$work/err" "expected py:PATH.py:FUNC" "the expected form"
expect 2 "--repeat does not apply" -- "$bin" run "$case" --backend "py:$fns:ttt_attention" --repeat 2
expect 2 "an interpreter without torch" -- env ATTN_PYTHON=/usr/bin/python3 "$bin" run "$case" --backend "py:$fns:ttt_attention" --as x
contains "$work/err" "cannot import torch" "names the missing module"
expect 2 "an interpreter that does not exist" -- env ATTN_PYTHON=/nonexistent/python "$bin" run "$case" --backend "py:$fns:ttt_attention" --as x
contains "$work/err" "cannot start the Python interpreter" "names the interpreter"
expect 0 "a failing function does not stop the C++ backends" -- true
"$bin" run "$case" --backend "py:$fns:raises,flash" -q >"$work/out" 2>"$work/err"; rc=$?
checks=$((checks + 1)); [ "$rc" -eq 2 ] && [ -e "$case/outputs/flash.h5" ] || fail "mixed run: exit $rc, flash recorded: $(ls "$case/outputs")"

checks_done

# Checks shared by the command-line test scripts (sourced, not run). It makes the scratch folder
# $work (removed on exit); every check counts in $checks, a failed one prints "FAIL: ..." and
# counts in $failures; a script ends with `checks_done`, which prints both counts and returns
# non-zero iff a check failed. Commands run by `expect` leave their stdout in $work/out and their
# stderr in $work/err for the checks after them.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0; checks=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

expect() {  # RC DESCRIPTION -- COMMAND...: runs COMMAND and checks its exit code
  local want=$1 what=$2; shift 3
  checks=$((checks + 1))
  "$@" >"$work/out" 2>"$work/err"; local rc=$?
  [ "$rc" -eq "$want" ] ||
    fail "$what: exit $rc, expected $want; stderr: $(head -c 600 "$work/err"); stdout: $(head -c 1200 "$work/out")"
}

contains() {  # FILE PATTERN DESCRIPTION: FILE has a line matching the grep PATTERN
  checks=$((checks + 1))
  grep -q -- "$2" "$1" || fail "$3: '$2' not in $(basename "$1"): $(head -c 1200 "$1")"
}

lacks() {  # FILE PATTERN DESCRIPTION: no line of FILE matches PATTERN
  checks=$((checks + 1))
  ! grep -q -- "$2" "$1" || fail "$3: '$2' found in $(basename "$1"): $(grep -m 3 -- "$2" "$1")"
}

pycheck() {  # DESCRIPTION PYTHON-CODE [ARGS...]: the code (sys.argv[1:] = ARGS) exits 0
  local what=$1 code=$2; shift 2
  checks=$((checks + 1))
  /usr/bin/python3 -c "$code" "$@" >"$work/py" 2>&1 || fail "$what: $(head -c 1200 "$work/py")"
}

check() {  # DESCRIPTION COMMAND...: the command (a test of its own) succeeds
  local what=$1; shift
  checks=$((checks + 1))
  "$@" || fail "$what"
}

checks_done() {
  echo "$checks checks, $failures failures"
  [ "$failures" -eq 0 ]
}

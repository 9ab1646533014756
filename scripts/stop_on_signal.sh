# Sourced by the long-running scripts (calibrate_budgets.sh, nightly_bench.sh). On INT or TERM
# (a Ctrl-C, a job's time limit) the script stops every process it started, their children
# included, says so on stderr and exits 143; its EXIT trap still runs. bash runs a trap only
# after a foreground command ends, so the scripts run their long commands through `waited`
# (in the background, then waited for), which lets the signal through at once. Needs pgrep
# (procps).

stop_tree() {  # PID: TERM to it and its descendants, the descendants first
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do stop_tree "$c"; done
  kill -TERM "$1" 2>/dev/null
}

# The script's own stderr, kept: the trap may run inside `waited CMD 2>FILE`, whose redirection
# would otherwise take the message.
exec {stop_on_signal_stderr}>&2

stop_children_and_exit() {
  trap - INT TERM
  local c
  for c in $(pgrep -P $$ 2>/dev/null); do stop_tree "$c"; done
  echo "$(basename "$0"): stopped; every process it started was stopped" >&"$stop_on_signal_stderr"
  exit 143
}
trap stop_children_and_exit INT TERM

waited() {  # COMMAND...: runs it in the background and waits for it; its exit code
  "$@" &
  wait $!
}

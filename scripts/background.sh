# Sourced by the smoke scripts: starts a server in the background and waits for it.
#
# start_server LOG PATTERN COMMAND...: runs COMMAND with its output in LOG, kills it on exit,
# and waits up to 10 s for PATTERN in LOG.
start_server() {
  local log=$1 pattern=$2
  shift 2
  "$@" > "$log" 2>&1 &
  server_pid=$!
  trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do
    grep -q "$pattern" "$log" && return 0
    sleep 0.1
  done
}

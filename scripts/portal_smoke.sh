#!/usr/bin/env bash
# Runs `cargo run --example portal` on a free port and signs in as a demo user over HTTP:
# the page a browser gets, the session cookie, the dashboard behind it.
set -euo pipefail
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
work=$(mktemp -d)
cargo build -q --example portal --locked
# shellcheck source=scripts/background.sh
source scripts/background.sh
start_server "$work/portal.log" 'runs at' "${CARGO_TARGET_DIR:-target}/debug/examples/portal" --listen "127.0.0.1:$port"
base="http://127.0.0.1:$port/mliy"
curl -fsS "$base/login" | grep -q '<label for="username">' || { cat "$work/portal.log"; exit 1; }
curl -fsS -c "$work/cookies" -o /dev/null -d username=alice -d password=alice-demo "$base/login"
grep -q mliy_session "$work/cookies" || { echo "error: no session cookie" >&2; exit 1; }
curl -fsS -b "$work/cookies" "$base" | grep -q 'Alice Analyst' || { echo "error: no dashboard" >&2; exit 1; }
echo "the portal example: signed in as alice at $base"

#!/usr/bin/env bash
# mliy's test command (the README's): installs what the tests need when it is missing, then
# checks formatting and lints, builds each feature set, and runs every test.
#
# With MLIY_REQUIRE_SERVERS=1 (exported by .ci/run) a server that cannot be installed fails the
# run; otherwise the tests that need it skip loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
apt_updated=0

log() { printf '\n== %s\n' "$*"; }

apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Runs an install step; a failure is fatal only when servers are required.
try_install() {
  local what=$1
  shift
  if ! "$@"; then
    if [ "${MLIY_REQUIRE_SERVERS:-0}" = 1 ]; then
      echo "error: could not install $what, and MLIY_REQUIRE_SERVERS=1" >&2
      exit 1
    fi
    echo "warning: could not install $what; the tests that need it will skip" >&2
  fi
}

install_moto() {
  local have
  have=$(python3 -m pip show moto 2>/dev/null | sed -n 's/^Version: //p')
  if [ "$have" != "$MOTO_VERSION" ] || ! command -v moto_server >/dev/null; then
    python3 -m pip install -q "moto[server]==$MOTO_VERSION"
    command -v pyenv >/dev/null && pyenv rehash || true
  fi
}

install_slapd() {
  { command -v slapd >/dev/null || [ -x /usr/sbin/slapd ]; } && command -v ldapadd >/dev/null \
    || apt_install slapd ldap-utils
  # The LDAP tests make a throwaway CA and server certificate with it.
  command -v openssl >/dev/null || apt_install openssl
}

install_postgres() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_install postgresql
}

log "servers for the integration tests"
try_install "moto[server]==$MOTO_VERSION" install_moto
try_install "slapd and ldap-utils" install_slapd
try_install "postgresql" install_postgres

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, all features)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

log "builds: no features, each feature alone"
cargo check -p mliy-core --no-default-features --locked
cargo check -p mliy --no-default-features --locked
for feature in cli aws route53 dns-api ldap sqlite postgres; do
  cargo check -p mliy --no-default-features --features "$feature" --locked
done

log "tests"
cargo test --workspace --all-features --locked

log "the demo: cargo run --example quickstart"
cargo run -q --example quickstart --locked

log "the demo on AwsCloud against moto, checked with boto3"
if command -v moto_server >/dev/null; then
  bash scripts/quickstart_moto.sh
elif [ "${MLIY_REQUIRE_SERVERS:-0}" = 1 ]; then
  echo "error: moto_server is required (MLIY_REQUIRE_SERVERS=1) but was not found" >&2
  exit 1
else
  echo "SKIPPED: moto_server not found; the quickstart on moto did not run"
fi

log "mliy sim at full size: 1,000 instances, 100 clusters, 10% faults, a crash every 50 writes"
sims=$(mktemp -d)
for seed in 1 2 3; do
  cargo run -q --release --locked --bin mliy -- \
    sim --instances 1000 --clusters 100 --faults 0.1 --crash-every 50 --seed "$seed" --json > "$sims/sim-$seed.json"
  python3 - "$seed" "$sims/sim-$seed.json" <<'PY'
import json, sys
seed, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
bad = {k: r[k] for k in ("duplicate_stacks", "orphaned_stacks", "lost", "unexpected_failures", "running_machines") if r[k]}
ended = r["terminated"] + r["failed"]
print(f"seed {seed}: launched {r['launched']}, ready {r['ready']}, failed {r['failed']} (doomed {r['told_to_fail']}), "
      f"terminated {r['terminated']}, restarts {r['restarts']}, {sum(r['cloud_calls'].values())} cloud calls, {r['wall_ms']} ms")
if bad or ended != r["launched"] or r["launched"] != 1100:
    sys.exit(f"seed {seed}: {bad}, {ended} of {r['launched']} ended")
PY
done

#!/usr/bin/env bash
# mliy's test command (the README's): installs what the tests need when it is missing, then
# checks formatting and lints, builds each feature set, and runs every test.
#
# With MLIY_REQUIRE_SERVERS=1 (exported by .ci/run) a server that cannot be installed fails the
# run; otherwise the tests that need it skip loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.5
SCHEMATHESIS_VERSION=4.32.5
apt_updated=0

log() { printf '\n== %s (at %d s)\n' "$*" "$SECONDS"; }

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
  # The throwaway server speaks TLS with a certificate made by openssl.
  command -v openssl >/dev/null || apt_install openssl
}

install_chromium() {
  { command -v chromium >/dev/null && command -v chromedriver >/dev/null; } || apt_install chromium chromium-driver
}

install_schemathesis() {
  if ! command -v schemathesis >/dev/null; then
    python3 -m pip install -q "schemathesis==$SCHEMATHESIS_VERSION"
    command -v pyenv >/dev/null && pyenv rehash || true
  fi
}

log "servers for the integration tests"
try_install "moto[server]==$MOTO_VERSION" install_moto
try_install "slapd and ldap-utils" install_slapd
try_install "postgresql" install_postgres
try_install "schemathesis==$SCHEMATHESIS_VERSION" install_schemathesis
try_install "chromium and chromium-driver" install_chromium

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (all targets, all features)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

log "builds: no features, each feature alone"
cargo check -p mliy-core --no-default-features --locked
cargo check -p mliy --no-default-features --locked
for feature in cli dns-api ldap sqlite postgres http; do
  cargo check -p mliy --no-default-features --features "$feature" --locked
done
# The AWS features alone, with their dependencies given the full build's features
# (ci/unify, scripts/unify.py): mliy's code is checked with the feature alone, and the AWS
# SDK's check from the clippy run above is reused instead of done again.
for feature in aws route53 s3; do
  cargo check -p mliy --no-default-features --features "$feature,ci-unify" --locked
done

log "tests"
cargo test --workspace --all-features --locked

log "the demo: cargo run --example quickstart"
cargo run -q --example quickstart --locked

log "the portal example: cargo run --example portal, signed in over HTTP"
bash scripts/portal_smoke.sh

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
cargo build -q --release --locked --features postgres --bin mliy
mliy="${CARGO_TARGET_DIR:-target}/release/mliy"

# That binary lacks the aws, route53, dns-api, ldap and s3 features: a deployment config naming
# one of them is refused, naming the feature (the tests above are built with every feature).
python3 - "$mliy" <<'PY'
import json, os, subprocess, sys, tempfile
mliy, folder = sys.argv[1], tempfile.mkdtemp()
cases = {
    "aws": ("cloud.aws", "cloud: {aws: {region: us-east-1}}\nstore: memory\n"),
    "ldap": ("auth.ldap", "cloud: sim\nstore: memory\nauth: {ldap: {url: 'ldap://127.0.0.1', mode: ad, "
             "base_dn: 'dc=x', bind_dn: 'cn=y,dc=x', bind_password: {env: P}}}\n"),
    "dns-api": ("dns.rest", "cloud: sim\nstore: memory\ndns: {rest: {url: 'https://dns.example/api', domain: example.com}}\n"),
    "s3": ("s3", "cloud: sim\nstore: memory\ns3: {datasets: ['s3://data-lake/curated']}\n"),
}
for feature, (field, text) in cases.items():
    path = os.path.join(folder, f"{feature}.yaml")
    open(path, "w").write(text)
    out = subprocess.run([mliy, "config", "check", "--config", path, "--json"], capture_output=True, text=True)
    error = json.loads(out.stdout)["error"]
    if out.returncode != 2 or error.get("field") != field or f"--features {feature}" not in error.get("rule", ""):
        sys.exit(f"a config naming {feature} without the feature: exit {out.returncode}, {error}")
    print(f"without the {feature} feature: refused, naming {field} and the feature")
PY
log "schemathesis against mliy serve's OpenAPI document"
if command -v schemathesis >/dev/null; then
  bash scripts/schemathesis.sh "$mliy"
elif [ "${MLIY_REQUIRE_SERVERS:-0}" = 1 ]; then
  echo "error: schemathesis is required (MLIY_REQUIRE_SERVERS=1) but was not found" >&2
  exit 1
else
  echo "SKIPPED: schemathesis not found; the API was not fuzzed"
fi

# Checks a report: nothing duplicated, orphaned, lost, doubled or failed unexpectedly, and
# every launch ended.
check_sim() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
label, path, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path))
keys = ("duplicate_stacks", "orphaned_stacks", "lost", "double_actions", "unexpected_failures", "running_machines")
bad = {k: r[k] for k in keys if r[k]}
ended = r["terminated"] + r["failed"]
print(f"{label}: launched {r['launched']}, ready {r['ready']}, failed {r['failed']} (doomed {r['told_to_fail']}), "
      f"terminated {r['terminated']}, replicas {r['replicas']}, restarts {r['restarts']}, "
      f"{sum(r['cloud_calls'].values())} cloud calls, {r['wall_ms']} ms")
if bad or ended != r["launched"] or r["launched"] != expected:
    sys.exit(f"{label}: {bad}, {ended} of {r['launched']} ended (expected {expected})")
PY
}
for seed in 1 2 3; do
  "$mliy" sim --store memory --instances 1000 --clusters 100 --faults 0.1 --crash-every 50 --seed "$seed" --json \
    > "$sims/sim-$seed.json"
  check_sim "memory, seed $seed" "$sims/sim-$seed.json" 1100
done

log "mliy sim: 500 instances, 3 replicas on one store, a crash every 40 writes (SQLite, PostgreSQL)"
for seed in 1 2; do
  "$mliy" sim --instances 500 --replicas 3 --store "sqlite:$sims/replicas-$seed.sqlite" --crash-every 40 \
    --seed "$seed" --json > "$sims/sqlite-$seed.json"
  check_sim "sqlite, seed $seed" "$sims/sqlite-$seed.json" 502
done
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
if pg_bin >/dev/null; then
  pgdir=$(mktemp -d)
  trap 'stop_postgres "$pgdir"' EXIT
  pg_url=$(start_postgres "$pgdir")
  for seed in 1 2; do
    psql -q "$pg_url" -c "CREATE DATABASE sim_$seed"
    "$mliy" sim --instances 500 --replicas 3 --store "postgres:${pg_url%/postgres}/sim_$seed" --crash-every 40 \
      --seed "$seed" --json > "$sims/postgres-$seed.json"
    check_sim "postgres, seed $seed" "$sims/postgres-$seed.json" 502
  done
  stop_postgres "$pgdir"
  trap - EXIT
elif [ "${MLIY_REQUIRE_SERVERS:-0}" = 1 ]; then
  echo "error: PostgreSQL is required (MLIY_REQUIRE_SERVERS=1) but was not found" >&2
  exit 1
else
  echo "SKIPPED: PostgreSQL not found; mliy sim on PostgreSQL did not run"
fi

log "mliy sim of MLiy's images, unchanged: the imported MLiy catalog, 100 instances, 10% faults, priced (SQLite)"
fixtures=${MLIY_FIXTURES:-../shared/fixtures/mliy}
"$mliy" catalog import-mliy "$fixtures/simpledb.json" --instance-types "$fixtures/instance_types_fixture.json" \
  --template "MLiyDefault=$fixtures/AWS_EC2_MLiy_CloudFormation.json" \
  --user-data MLiyDefault=tests/fixtures/mliy-scripts/userdata_MLiy.sh --ami-id MLiyDefault=ami-0abcdef1234567890 \
  --subnet-id subnet-0a1b2c3d --availability-zone us-east-1a --out "$sims/mliy-catalog.yaml" --json > /dev/null
for image in mliy-config-ebs mliy-classic; do
  "$mliy" sim --catalog "$sims/mliy-catalog.yaml" --bootstrap "$image" --instances 100 --clusters 0 --faults 0.1 \
    --prices "$fixtures/ec2instances_info_2019-02.json" --store "sqlite:$sims/$image.sqlite" --json > "$sims/$image.json"
  check_sim "$image" "$sims/$image.json" 100
  python3 - "$image" "$sims/$image.json" <<'PY'
import json, sys
image, r = sys.argv[1], json.load(open(sys.argv[2]))
steps = {"mliy-config-ebs": 5, "mliy-classic": 10}[image]
got = (r["ready"], r["failed"], r["progress_reports_accepted"], r["progress_steps_missing"])
print(f"{image}: ready {got[0]}, failed {got[1]}, {got[2]} progress reports accepted, {got[3]} instances missing a step")
if got != (100, 0, 100 * steps, 0):
    sys.exit(f"{image}: expected (100, 0, {100 * steps}, 0), got {got}")
bills = (r["cost_total"], r["cost_mismatches"], r["bad_segments"])
print(f"{image}: cost {bills[0]} on SQLite, {bills[1]} instances off by more than half a cent, {bills[2]} bad segments")
if bills[0] is None or float(bills[0]) <= 0 or bills[1:] != (0, 0):
    sys.exit(f"{image}: the bills do not add up: {bills}")
PY
done

log "done"

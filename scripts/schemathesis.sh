#!/usr/bin/env bash
# schemathesis against a running `mliy serve` (the simulated cloud, the example catalog, a
# memory store): every operation of /api/v1/openapi.json, every check, no server error and no
# response that breaks the schema. The event stream never ends, so it is left out (the API
# tests read it in process); logout too, as it would end the run's own session.
# Usage: scripts/schemathesis.sh PATH-TO-MLIY-BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
mliy=$1
work=$(mktemp -d)
cat > "$work/mliy.yaml" <<YAML
catalog: $PWD/examples/catalog/catalog.yaml
cloud: sim
store: memory
auth:
  static:
    users:
      - {username: alice, password: {env: MLIY_ALICE_PASSWORD}, groups: ['cn=data-science,ou=groups,dc=example,dc=com']}
http: {listen: '127.0.0.1:0'}
YAML
# shellcheck source=scripts/background.sh
source scripts/background.sh
export MLIY_ALICE_PASSWORD=schemathesis-pw
start_server "$work/serve.log" 'listening on' "$mliy" serve --config "$work/mliy.yaml"
base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
[ -n "$base" ] || { cat "$work/serve.log"; echo "error: mliy serve did not start" >&2; exit 1; }
token=$(curl -fsS -H 'content-type: application/json' -d '{"username":"alice","password":"schemathesis-pw"}' \
  "$base/api/v1/login" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# A progress report without the launch secret, and MLiy's bare endpoint, are refused.
status=$(curl -s -o /dev/null -w '%{http_code}' -d 'percent=50&message=forged' "$base/api/v1/progress/0a1b2c3d4e5f")
[ "$status" = 401 ] || { echo "error: progress without the secret answered $status" >&2; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' "$base/ajax/progress/i-0123456789abcdef0/done(100)")
[ "$status" = 401 ] || { echo "error: MLiy's bare progress URL answered $status" >&2; exit 1; }
echo "progress without the launch secret: refused (401), on both endpoints"

schemathesis --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" --url "$base" \
  --checks all --request-timeout 5 --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" --seed 1 \
  --header "Authorization: Bearer $token" \
  --exclude-path '/api/v1/resources/{id}/events/stream' --exclude-path /api/v1/logout

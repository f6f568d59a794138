#!/usr/bin/env bash
# Schemathesis (from PyPI, pinned) against the live API: starts the provider sandbox and the
# whole fleet (`docsync all`) in a database and RabbitMQ vhost of their own, creates an account
# and a token, seeds a tenant, the Microsoft connection, the Hudu integration and ConnectWise
# Manage (so pushes, syncs and test connections get past "not configured"), then lets schemathesis generate requests for
# every operation of GET /openapi.json, in every phase (examples, coverage, fuzzing, and the
# stateful phase that follows the document's links, so operations also run with real ids), and
# fails on any failure of any check (`--checks all`: server errors, status codes, content types,
# response schemas and headers, valid data accepted, invalid data refused, auth not ignored,
# deleted resources gone ...).
# Bounded: 20 examples per operation (SCHEMATHESIS_MAX_EXAMPLES) and a time limit
# (SCHEMATHESIS_TIME_LIMIT seconds, default 600). Everything it started is stopped and its
# database and vhost removed at the end. Needs PostgreSQL and RabbitMQ on 127.0.0.1
# (deploy/local/services.sh), python3 with venv, and root for rabbitmqctl (without it the
# default vhost is used under a unique queue prefix).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-20}"
TIME_LIMIT="${SCHEMATHESIS_TIME_LIMIT:-600}"
SEED="${SCHEMATHESIS_SEED:-20261122}"
# One worker thread unless asked: hypothesis parses the source of its lambdas with `ast`, and
# CPython before 3.11.9 / 3.12.3 keeps the AST's recursion depth in state shared by every
# thread (CPython gh-106905), so two workers parsing at once can fail a case with
# "SystemError: AST constructor recursion depth mismatch", a fault of the tool, not of the API
# (it failed CI once with Debian 12's Python 3.11).
WORKERS="${SCHEMATHESIS_WORKERS:-1}"
started=$(date +%s)

if ! command -v cargo >/dev/null 2>&1 && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

# schemathesis in a virtual environment of its own, kept between runs.
venv="${DOCSYNC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/docsync}/schemathesis-$SCHEMATHESIS_VERSION"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    echo "schemathesis.sh: installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian's python3 ships venv separately.
        rm -rf "$venv"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip >/dev/null
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet -p docsync --bin docsync
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/docsync"

unique=$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')
work=$(mktemp -d)
database="docsync_schemathesis_$unique"
base_db="${DOCSYNC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
vhost="docsync-schemathesis-$unique"
pids=()

cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    psql "$base_db/postgres" -q -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" >/dev/null 2>&1 || true
    if [[ "${own_vhost:-false}" == true ]]; then
        rabbitmqctl -q delete_vhost "$vhost" >/dev/null 2>&1 || true
    fi
    if [[ $status -ne 0 ]]; then
        echo "schemathesis.sh: failed; the fleet's log:" >&2
        tail -n 40 "$work/fleet.log" >&2 2>/dev/null || true
    fi
    rm -rf "$work"
    echo "schemathesis.sh: $(($(date +%s) - started)) s in all"
    exit "$status"
}
trap cleanup EXIT

own_vhost=false
if rabbitmqctl -q add_vhost "$vhost" >/dev/null 2>&1 &&
    rabbitmqctl -q set_permissions -p "$vhost" guest ".*" ".*" ".*" >/dev/null 2>&1; then
    own_vhost=true
    amqp_url="amqp://guest:guest@127.0.0.1:5672/$vhost"
else
    echo "schemathesis.sh: rabbitmqctl unavailable; using the default vhost" >&2
    amqp_url="amqp://guest:guest@127.0.0.1:5672/%2f"
fi

# The provider emulators on free ports.
"$bin" sandbox --port 0 >"$work/sandbox.out" 2>"$work/sandbox.log" &
pids+=($!)
for _ in $(seq 1 100); do
    grep -q '^IT Glue au:' "$work/sandbox.out" 2>/dev/null && break
    sleep 0.1
done
value() { sed -n "s/^$1//p" "$work/sandbox.out" | head -n 1; }
graph_url=$(value 'DOCSYNC_GRAPH_URL=')
hudu_url=$(value 'Hudu baseUrl: ')
[[ -n "$graph_url" && -n "$hudu_url" ]] || {
    echo "schemathesis.sh: the sandbox did not start" >&2
    exit 1
}

api_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api="http://127.0.0.1:$api_port"
export DOCSYNC_DATABASE_URL="$base_db/$database"
export DOCSYNC_AMQP_URL="$amqp_url"
export DOCSYNC_API_ADDR="127.0.0.1:$api_port"
# The metrics listener on a free port too, so that two runs (or a fleet) on one machine do not
# collide on the default 9464.
DOCSYNC_METRICS_ADDR="127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export DOCSYNC_METRICS_ADDR
export DOCSYNC_MASTER_KEY
DOCSYNC_MASTER_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export DOCSYNC_GRAPH_URL="$graph_url"
export DOCSYNC_LOGIN_URL="$(value 'DOCSYNC_LOGIN_URL=')"
export DOCSYNC_EXCHANGE_URL="$(value 'DOCSYNC_EXCHANGE_URL=')"
export DOCSYNC_ITGLUE_URL_US="$(value 'IT Glue us: ')"
export DOCSYNC_ITGLUE_URL_EU="$(value 'IT Glue eu: ')"
export DOCSYNC_ITGLUE_URL_AU="$(value 'IT Glue au: ')"
export DOCSYNC_AUTOTASK_ZONE_URL="$(value 'DOCSYNC_AUTOTASK_ZONE_URL=')"
export DOCSYNC_ALLOW_PRIVATE_PROVIDER_URLS=true
export DOCSYNC_QUEUE_PREFIX="schemathesis-$unique"
export DOCSYNC_PUBLISH_PARTITIONS=2
export DOCSYNC_RETRY_DELAYS=1,2
# schemathesis sends far more than a person would; the limit's own tests cover 429.
export DOCSYNC_API_RATE_LIMIT=1000000
export DOCSYNC_API_UNKNOWN_TOKEN_LIMIT=1000000
export RUST_LOG="${RUST_LOG:-warn}"

"$bin" migrate >/dev/null
account=$("$bin" account create --name "Schemathesis MSP")
token=$("$bin" token create --account "$account" \
    --permissions INTEGRATIONS_READ,INTEGRATIONS_MANAGE,TENANTS_READ,TENANTS_MANAGE)

"$bin" all >"$work/fleet.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
    curl -fsS "$api/ready" >/dev/null 2>&1 && break
    kill -0 "${pids[-1]}" 2>/dev/null || {
        echo "schemathesis.sh: docsync all stopped" >&2
        exit 1
    }
    sleep 0.2
done
curl -fsS "$api/ready" >/dev/null

call() {
    curl -fsS -X "$1" "$api$2" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' ${3:+--data "$3"}
}
tenant=$(call POST /tenants \
    '{"name": "Contoso", "primaryDomain": "contoso.com", "microsoftTenantId": "0b9e8c4a-1f2d-4e3b-9a7c-5d6e7f8a9b0c"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
call PUT /connections/microsoft \
    '{"clientId": "5a4db0c1-d0c5-4c1e-8a7e-000000000001", "clientSecret": "sandbox-client-secret-0123456789"}' >/dev/null
call PUT /integrations/hudu \
    "{\"baseUrl\": \"$hudu_url\", \"apiKey\": \"sandbox-hudu-key-0123456789abcdef\", \"companyIdByTenantId\": {\"$tenant\": 1}}" >/dev/null
# ConnectWise Manage, so the PSA routes get past "not configured"; a first sync fills the
# company list.
call PUT /integrations/connectwise-manage \
    "{\"site\": \"$(value 'ConnectWise Manage site: ')\", \"companyId\": \"mymsp\", \"publicKey\": \"sandboxpublic016\", \"privateKey\": \"sandboxprivate0123456789\", \"clientId\": \"0f3c2b7e-5d1a-4c3b-9e8f-7a6b5c4d3e2f\", \"schedule\": {\"mode\": \"manual\"}}" >/dev/null
call POST /integrations/connectwise-manage/sync >/dev/null
# IT Glue, HaloPSA and Autotask too: a PUT that leaves out or sends back masked a secret keeps
# the stored one, which needs one stored (a first PUT without it is a 400 naming it).
call PUT /integrations/it-glue \
    "{\"region\": \"us\", \"apiKey\": \"sandbox-itglue-key-us-0123456789abcdef\", \"organizationIdByTenantId\": {\"$tenant\": 1}}" >/dev/null
call PUT /integrations/halopsa \
    "{\"resourceServer\": \"$(value 'HaloPSA resource server: ')\", \"tenant\": \"mymsp\", \"clientId\": \"sandbox-halo-client-0123456789\", \"clientSecret\": \"sandbox-halo-secret-0123456789abcdef\", \"schedule\": {\"mode\": \"manual\"}}" >/dev/null
call PUT /integrations/autotask \
    '{"username": "sandbox-api@mymsp.example", "secret": "sandbox-autotask-secret-0123456789", "integrationCode": "SANDBOXTRACKINGID0123456789", "schedule": {"mode": "manual"}}' >/dev/null
echo "schemathesis.sh: fleet ready at $api ($(($(date +%s) - started)) s); running schemathesis $SCHEMATHESIS_VERSION"

config="$PWD/deploy/local/schemathesis.toml"
set +e
# --max-response-time: a test connection waits up to 30 s for a slow provider by design (and
# says so in its 200); anything slower than 40 s is a failure.
# Run from the scratch directory: schemathesis keeps a cache (.schemathesis/) where it runs.
(cd "$work" && timeout --kill-after=10 "$TIME_LIMIT" "$venv/bin/schemathesis" --config-file "$config" --no-color run "$api/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 45 \
    --max-response-time 40 \
    --seed "$SEED" \
    --workers "$WORKERS" \
    </dev/null)
status=$?
set -e
if [[ $status -eq 124 || $status -eq 137 ]]; then
    echo "schemathesis.sh: schemathesis did not finish within $TIME_LIMIT s" >&2
fi
exit "$status"

#!/usr/bin/env bash
# Contract checks of clinic-api against its committed OpenAPI document.
#
#   bash ci/contract/run.sh target/debug/clinic-api
#
# $1 is an already-built clinic-api binary (this script never builds). The
# script starts it on a free loopback port with a fresh temporary SQLite
# database, waits for /health/ready, creates an admin API key (admins pass every
# staff route too; CONTRACT_KEY_ROLE=staff for a staff key), then runs:
#
#   a. document:   openapi-spec-validator (OpenAPI 3.1 schema), Redocly CLI
#                  `recommended` ruleset (errors fail; warnings are printed),
#                  and the served /api-docs/openapi.json equals the committed one;
#   c. client:     openapi-typescript generates the types, `tsc --noEmit` checks
#                  ci/contract/client-check.ts, which is then run once against
#                  the server (treatments, screening, availability, booking);
#   b. schemathesis: every check (`--checks all`), all four phases (examples,
#                  coverage, fuzzing, stateful), a fixed seed, 100 examples per
#                  operation, with the key (Authorization: Bearer ck_…) and
#                  live data (ci/contract/hooks.py): the operations behind a
#                  booking get real bookings, deposits, clients and deliveries;
#   2. swagger-ui: ci/swagger-ui/check.mjs in headless Debian Chromium.
#
# Every step runs even when an earlier one failed; the exit status is non-zero
# when any failed. The server is stopped and temporary files removed on exit.
#
# Installs (idempotent, skipped when already up to date), all git-ignored:
#   ci/contract/.venv/           schemathesis + openapi-spec-validator (requirements.txt)
#   ci/contract/node_modules/    @redocly/cli, openapi-typescript, typescript… (npm ci)
#   ci/swagger-ui/node_modules/  playwright-core (npm ci)
#   /usr/bin/chromium            Debian's chromium, by apt-get, when missing
# Outputs: test-output/contract/ (step logs, server.log, schemathesis JUnit and
# NDJSON reports, schemathesis-failures.md: every distinct failure with a curl
# reproduction, live-data.md: what each operation answered with live
# resources) and test-output/swagger-ui.png.
#
# Settings (environment): CONTRACT_SEED (default 20261125), CONTRACT_MAX_EXAMPLES
# (default 100), CONTRACT_KEY_ROLE (admin or staff, default admin),
# CONTRACT_WORKERS (schemathesis workers, default 1: one worker keeps a seeded
# run reproducible), CONTRACT_OUTPUT (default test-output/contract),
# CONTRACT_STEPS (default "document client schemathesis swagger-ui": a subset
# runs only those, e.g. while fixing one kind of finding).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SWAGGER_DIR="$ROOT/ci/swagger-ui"
DOCUMENT="$ROOT/openapi/openapi.json"
VENV="$HERE/.venv"
OUT="${CONTRACT_OUTPUT:-$ROOT/test-output/contract}"
SCREENSHOT="$ROOT/test-output/swagger-ui.png"
SEED="${CONTRACT_SEED:-20261125}"
MAX_EXAMPLES="${CONTRACT_MAX_EXAMPLES:-100}"
WORKERS="${CONTRACT_WORKERS:-1}"
STEPS="${CONTRACT_STEPS:-document client schemathesis swagger-ui}"
# Staff routes admit admin keys too, and the admin-only routes (client export
# and erasure, audit events) admit nothing else: an admin key reaches every
# operation. CONTRACT_KEY_ROLE=staff tests as a plain staff member.
KEY_ROLE="${CONTRACT_KEY_ROLE:-admin}"
CHROMIUM=/usr/bin/chromium

export DEBIAN_FRONTEND=noninteractive
export CI="${CI:-true}"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
exec </dev/null

log() { printf '\n==> contract: %s\n' "$*"; }
die() { printf 'contract: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: bash ci/contract/run.sh path/to/clinic-api"
BIN="$(realpath -e "$1" 2>/dev/null)" || die "no such binary: $1"
[[ -x "$BIN" ]] || die "not executable: $BIN"
[[ -f "$DOCUMENT" ]] || die "no document at $DOCUMENT"

START=$SECONDS
TMP="$(mktemp -d "${TMPDIR:-/tmp}/clinic-contract.XXXXXX")"
SERVER_PID=""
STEP_PID=""

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        # The server drains in-flight requests for up to 30 s.
        for _ in $(seq 1 70); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

# TERM a process of ours and its descendants (by pid; the step's tools).
kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        kill_tree "$child"
    done
    kill -TERM "$1" 2>/dev/null || true
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$STEP_PID" ]] && kill -0 "$STEP_PID" 2>/dev/null; then
        kill_tree "$STEP_PID"
        wait "$STEP_PID" 2>/dev/null || true
    fi
    stop_server
    rm -rf "$TMP" "$HERE/out"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$OUT"
mkdir -p "$OUT"

# --- installs (idempotent) ---------------------------------------------------

sha() { sha256sum "$@" | sha256sum | cut -c1-64; }

# npm ci into DIR/node_modules unless it already holds exactly DIR/package-lock.json.
npm_install() {
    local dir=$1 stamp="$1/node_modules/.contract-lock.sha256" want
    want="$(sha "$dir/package.json" "$dir/package-lock.json") $(node --version)"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
        log "npm ci in ${dir#"$ROOT"/}"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        printf '%s' "$want" > "$stamp"
    fi
}

install_python_tools() {
    local stamp="$VENV/.contract-requirements.sha256" want
    want="$(sha "$HERE/requirements.txt") $(python3 --version 2>&1)"
    if [[ -x "$VENV/bin/schemathesis" && "$(cat "$stamp" 2>/dev/null || true)" == "$want" ]]; then
        return
    fi
    log "installing ci/contract/requirements.txt into ${VENV#"$ROOT"/}"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's own python3 needs python3-venv for `python3 -m venv`.
        rm -rf "$VENV"
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --no-input -r "$HERE/requirements.txt"
    printf '%s' "$want" > "$stamp"
}

install_chromium() {
    if [[ ! -x "$CHROMIUM" ]]; then
        log "installing Debian's chromium"
        apt-get update -qq
        # Fonts come with chromium's recommends (fonts-liberation); the
        # screenshot needs them.
        apt-get install -y -qq chromium >/dev/null
    fi
}

command -v node >/dev/null || die "node is required (the machine's Node.js)"
command -v python3 >/dev/null || die "python3 is required"
log "installing tools"
install_python_tools
npm_install "$HERE"
npm_install "$SWAGGER_DIR"
install_chromium
log "tools: $("$VENV/bin/schemathesis" --version), openapi-spec-validator $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))'), @redocly/cli $(node -p 'require("'"$HERE"'/node_modules/@redocly/cli/package.json").version'), openapi-typescript $(node -p 'require("'"$HERE"'/node_modules/openapi-typescript/package.json").version'), typescript $(node -p 'require("'"$HERE"'/node_modules/typescript/package.json").version'), playwright-core $(node -p 'require("'"$SWAGGER_DIR"'/node_modules/playwright-core/package.json").version'), $("$CHROMIUM" --version 2>/dev/null)"

# --- the server --------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

DB_URL="sqlite://$TMP/clinic.db"
SERVER_LOG="$OUT/server.log"

start_server() {
    local attempt port
    for attempt in 1 2 3; do
        port="$(free_port)"
        BASE_URL="http://127.0.0.1:$port"
        log "starting $BIN on $BASE_URL (database $DB_URL)"
        # A fresh database and the default (manual) payment provider: no
        # Stripe settings leak in from the caller's environment. A rehearsal
        # clock (DEMO_CLOCK, on this throw-away database only), so that the
        # live data (hooks.py) includes bookings whose time has come; and a
        # screening and booking limit (RATE_LIMIT_PER_MINUTE) above what one
        # fuzzing worker sends, so that their logic is fuzzed rather than
        # their 429 (the rate-limit tests cover that; delivery replays keep
        # the default limit, so the run still sees 429s and their fields).
        env -u STRIPE_SECRET_KEY -u STRIPE_WEBHOOK_SECRET -u STRIPE_PUBLISHABLE_KEY -u STRIPE_API_BASE \
            -u WEBHOOK_REPLAYS_PER_MINUTE \
            DATABASE_URL="$DB_URL" BIND_ADDR="127.0.0.1:$port" SEED_CONTENT=true LOG_FORMAT=text NO_COLOR=1 \
            DEMO_CLOCK=true RATE_LIMIT_PER_MINUTE=600 \
            RUST_LOG="${RUST_LOG:-info}" "$BIN" serve >>"$SERVER_LOG" 2>&1 &
        SERVER_PID=$!
        for _ in $(seq 1 120); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                break
            fi
            if curl -fs -o /dev/null --max-time 2 "$BASE_URL/health/ready"; then
                log "server ready (pid $SERVER_PID)"
                return 0
            fi
            sleep 0.5
        done
        printf 'contract: the server did not become ready (attempt %s); its log:\n' "$attempt" >&2
        tail -n 20 "$SERVER_LOG" >&2 || true
        stop_server
    done
    return 1
}

start_server || die "could not start the server"
API_KEY="$(DATABASE_URL="$DB_URL" "$BIN" api-key create --role "$KEY_ROLE" --name contract-ci 2>>"$SERVER_LOG")"
[[ "$API_KEY" == ck_* ]] || die "api-key create printed no key"
log "created a $KEY_ROLE API key (${API_KEY:0:11}…)"
export BASE_URL API_KEY

# --- steps -------------------------------------------------------------------

declare -a RESULTS=()
FAILED=0

# Runs one step in a subshell with errexit in force (a plain `if fn` would
# switch errexit off inside fn), teeing its output into $OUT/NAME.log.
run_step() {
    local name=$1 t0=$SECONDS status
    shift
    if [[ " $STEPS " != *" $name "* ]]; then
        RESULTS+=("$(printf '%-14s skipped' "$name")")
        return 0
    fi
    log "step $name"
    ( ( set -euo pipefail; "$@" ) 2>&1 | tee "$OUT/$name.log"; exit "${PIPESTATUS[0]}" ) &
    STEP_PID=$!
    if wait "$STEP_PID"; then status=ok; else status=FAILED; FAILED=1; fi
    STEP_PID=""
    RESULTS+=("$(printf '%-14s %-7s %4ss  (log: %s)' "$name" "$status" $((SECONDS - t0)) "${OUT#"$ROOT"/}/$name.log")")
}

# a. The document: OpenAPI 3.1 schema, Redocly `recommended`, served == committed.
step_document() {
    local status=0
    echo "-- openapi-spec-validator"
    "$VENV/bin/openapi-spec-validator" "$DOCUMENT" || status=1
    echo "-- redocly lint (recommended)"
    (cd "$HERE" && node_modules/.bin/redocly lint --config redocly.yaml --format=stylish \
        --max-problems 1000 "$DOCUMENT") || status=1
    echo "-- the served /api-docs/openapi.json is the committed document"
    curl -fsS --max-time 10 "$BASE_URL/api-docs/openapi.json" -o "$TMP/served.json" || status=1
    "$VENV/bin/python" - "$DOCUMENT" "$TMP/served.json" <<'PY' || status=1
import json, sys
committed, served = (json.load(open(p)) for p in sys.argv[1:3])
if committed != served:
    print("the server serves a different document than openapi/openapi.json; "
          "regenerate it: cargo run -q -- openapi > openapi/openapi.json")
    sys.exit(1)
print("identical")
PY
    return "$status"
}

# c. The typed client: generate, type-check, then run once against the server.
step_client() {
    cd "$HERE"
    echo "-- openapi-typescript"
    node_modules/.bin/openapi-typescript "$DOCUMENT" -o generated/clinic-api.d.ts
    echo "-- tsc --noEmit"
    node_modules/.bin/tsc --noEmit -p tsconfig.json
    echo "-- client-check against $BASE_URL"
    node_modules/.bin/tsc -p tsconfig.json --outDir out
    CLINIC_API_URL="$BASE_URL" CLINIC_API_KEY="$API_KEY" node out/client-check.js
}

# b. schemathesis: every check, every phase, fixed seed, with the API key
# and live data (hooks.py: the key, and real bookings, deposits, clients and
# deliveries for the operations behind a booking).
# Output is not sanitized so that every "Reproduce with" curl is exact
# (Idempotency-Key, screening tokens, `session_*` fields): the only secret it
# shows is the API key of a throw-away database deleted at exit.
step_schemathesis() {
    mkdir -p "$OUT/schemathesis" "$TMP/st"
    cd "$TMP/st" # hypothesis and schemathesis keep nothing in the repository
    local status=0 report live="$OUT/live-data.json"
    SCHEMATHESIS_HOOKS="$HERE/hooks.py" CONTRACT_LIVE_REPORT="$live" \
    "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" run "$DOCUMENT" \
        --url "$BASE_URL" \
        --checks all \
        --phases examples,coverage,fuzzing,stateful \
        --mode all \
        --max-examples "$MAX_EXAMPLES" \
        --seed "$SEED" \
        --workers "$WORKERS" \
        --continue-on-failure \
        --generation-database none \
        --request-timeout 10 \
        --report junit,ndjson \
        --report-dir "$OUT/schemathesis" \
        --output-truncate false \
        --output-sanitize false \
        --no-color || status=$?
    # schemathesis prints one example per kind of failure and operation; the
    # NDJSON report has every case: list each distinct failure with its
    # shortest reproduction (informational; the verdict is schemathesis's).
    report="$(find "$OUT/schemathesis" -name 'ndjson-*.ndjson' | head -n 1)"
    if [[ -n "$report" ]]; then
        "$VENV/bin/python" "$HERE/failures.py" "$report" "$API_KEY" > "$OUT/schemathesis-failures.md"
        echo "-- $(head -n 1 "$OUT/schemathesis-failures.md" | sed 's/^# //'): ${OUT#"$ROOT"/}/schemathesis-failures.md"
        "$VENV/bin/python" "$HERE/live_report.py" "$report" "$live" > "$OUT/live-data.md" || status=1
        cat "$OUT/live-data.md"
    fi
    return "$status"
}

# 2. Swagger UI in headless Chromium.
step_swagger_ui() {
    node "$SWAGGER_DIR/check.mjs" "$BASE_URL" "$DOCUMENT" "$SCREENSHOT"
}

run_step document step_document
run_step client step_client
run_step schemathesis step_schemathesis
# The server must still be up and healthy after the fuzzing.
if ! curl -fsS -o /dev/null --max-time 5 "$BASE_URL/health/ready"; then
    echo "contract: the server is not ready after schemathesis" >&2
    FAILED=1
fi
run_step swagger-ui step_swagger_ui

log "summary ($((SECONDS - START))s in all; seed $SEED, $MAX_EXAMPLES examples per operation)"
printf '  %s\n' "${RESULTS[@]}"
if [[ $FAILED -ne 0 ]]; then
    echo "contract: FAILED (server log: ${SERVER_LOG#"$ROOT"/})"
    exit 1
fi
echo "contract: all checks passed (steps: $STEPS)"

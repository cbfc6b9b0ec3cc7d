#!/usr/bin/env bash
# End-to-end checks of the public booking page (web/) in headless Chromium.
#
#   bash ci/page/run.sh target/debug/clinic-api      # starts the binary itself
#   STAFF_KEY=ck_… bash ci/page/run.sh http://127.0.0.1:8080   # a server already running
#
# With a binary, it is started on a free loopback port twice: once on a fresh
# SQLite file, once on a fresh PostgreSQL database `clinic_page_<random>`
# created on 127.0.0.1:5432 (user postgres, trust auth) and dropped after.
# Each time a staff key is made with `clinic-api api-key create --role staff
# --name page-test` on the same DATABASE_URL, and ci/page/e2e.mjs runs against
# the binary's own `/`. With a URL, e2e.mjs runs once against it; STAFF_KEY
# must then be a staff key of that server's database.
#
# Steps (all run; the exit status is non-zero when any failed):
#   typecheck   openapi-typescript generates ci/page/.generated/api.d.ts from
#               openapi/openapi.json, then `tsc` checks web/*.js (checkJs, with
#               the generated types) and the harness e2e.mjs;
#   e2e-<db>    ci/page/e2e.mjs: the checks listed at its top (booking,
#               under-18, slot taken, manage, axe, screenshots, privacy, layout).
#
# Installs (idempotent, git-ignored): ci/page/node_modules (npm ci from the
# committed package-lock.json), /usr/bin/chromium (Debian's, by apt-get, when
# missing). Outputs: test-output/page/<db>/ (screenshots, report.json),
# test-output/page/*.log.
#
# Settings (environment):
#   PAGE_DATABASES   "sqlite postgres" (default) or one of them (binary mode)
#   PAGE_PG_URL      PostgreSQL server to create the database on
#                    (default postgres://postgres@127.0.0.1:5432)
#   PAGE_DEV_SERVER  1: put ci/page/dev-server.py in front of the binary, to
#                    test web/ from disk without rebuilding (DEVELOPMENT ONLY:
#                    what the real binary serves is then not what is tested)
#   PAGE_OUTPUT      default test-output/page
#   PAGE_STEPS       default "typecheck e2e"
#   STAFF_KEY        URL mode only (required there)
# Works as root, with CI=true and no stdin; talks to loopback only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${PAGE_OUTPUT:-$ROOT/test-output/page}"
DATABASES="${PAGE_DATABASES:-sqlite postgres}"
PG_URL="${PAGE_PG_URL:-postgres://postgres@127.0.0.1:5432}"
STEPS="${PAGE_STEPS:-typecheck e2e}"
CHROMIUM=/usr/bin/chromium

export DEBIAN_FRONTEND=noninteractive
export CI="${CI:-true}"
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export PYTHONDONTWRITEBYTECODE=1
exec </dev/null

log() { printf '\n==> page: %s\n' "$*"; }
die() { printf 'page: %s\n' "$*" >&2; exit 2; }

[[ $# -eq 1 ]] || die "usage: bash ci/page/run.sh path/to/clinic-api | http://127.0.0.1:PORT"
MODE=binary
if [[ "$1" =~ ^https?:// ]]; then
    MODE=url
    TARGET_URL="${1%/}"
    [[ "$TARGET_URL" =~ ^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?$ ]] || die "only loopback URLs: $1"
    [[ -n "${STAFF_KEY:-}" ]] || die "STAFF_KEY=ck_… is required with a URL (a staff key of that server's database)"
else
    BIN="$(realpath -e "$1" 2>/dev/null)" || die "no such binary: $1"
    [[ -x "$BIN" ]] || die "not executable: $BIN"
fi

START=$SECONDS
TMP="$(mktemp -d "${TMPDIR:-/tmp}/clinic-page.XXXXXX")"
SERVER_PID=""
DEV_PID=""
PG_DB=""

# Stops a process we started (by its pid) and waits for it.
stop_pid() {
    local pid=$1
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        # The server drains in-flight requests for up to 30 s.
        for _ in $(seq 1 70); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

drop_pg() {
    if [[ -n "$PG_DB" ]]; then
        psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "page: could not drop the database $PG_DB" >&2
        PG_DB=""
    fi
}

stop_servers() {
    stop_pid "$DEV_PID"
    DEV_PID=""
    stop_pid "$SERVER_PID"
    SERVER_PID=""
    drop_pg
}

# TERM a process of ours and its descendants (by pid).
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
    if [[ -n "${STEP_PID:-}" ]] && kill -0 "$STEP_PID" 2>/dev/null; then
        kill_tree "$STEP_PID"
        wait "$STEP_PID" 2>/dev/null || true
    fi
    stop_servers
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$OUT"
mkdir -p "$OUT"

# --- installs (idempotent) ---------------------------------------------------

sha() { sha256sum "$@" | sha256sum | cut -c1-64; }

npm_install() {
    local stamp="$HERE/node_modules/.page-lock.sha256" want
    want="$(sha "$HERE/package.json" "$HERE/package-lock.json") $(node --version)"
    if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
        log "npm ci in ci/page"
        (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
        printf '%s' "$want" > "$stamp"
    fi
}

install_chromium() {
    if [[ ! -x "$CHROMIUM" ]]; then
        log "installing Debian's chromium"
        apt-get update -qq
        # Fonts come with chromium's recommends (fonts-liberation); screenshots need them.
        apt-get install -y -qq chromium >/dev/null
    fi
}

command -v node >/dev/null || die "node is required (the machine's Node.js)"
command -v python3 >/dev/null || die "python3 is required"
log "installing tools"
npm_install
install_chromium
log "tools: playwright-core $(node -p 'require("'"$HERE"'/node_modules/playwright-core/package.json").version'), axe-core $(node -p 'require("'"$HERE"'/node_modules/axe-core/package.json").version'), openapi-typescript $(node -p 'require("'"$HERE"'/node_modules/openapi-typescript/package.json").version'), typescript $(node -p 'require("'"$HERE"'/node_modules/typescript/package.json").version'), $("$CHROMIUM" --version 2>/dev/null)"

# --- steps -------------------------------------------------------------------

declare -a RESULTS=()
FAILED=0

STEP_PID=""

# Runs a step in a background subshell with errexit in force (inside a plain
# `if fn` errexit would be off in fn), teeing its output into $OUT/NAME.log.
run_step() {
    local name=$1 t0=$SECONDS status
    shift
    log "step $name"
    ( ( set -euo pipefail; "$@" ) 2>&1 | tee "$OUT/$name.log"; exit "${PIPESTATUS[0]}" ) &
    STEP_PID=$!
    if wait "$STEP_PID"; then
        status=ok
    else
        status=FAILED
        FAILED=1
    fi
    STEP_PID=""
    RESULTS+=("$(printf '%-16s %-7s %4ss  (log: %s)' "$name" "$status" $((SECONDS - t0)) "${OUT#"$ROOT"/}/$name.log")")
}

step_typecheck() {
    cd "$HERE"
    echo "-- openapi-typescript openapi/openapi.json -> ci/page/.generated/api.d.ts"
    node_modules/.bin/openapi-typescript "$ROOT/openapi/openapi.json" -o .generated/api.d.ts
    echo "-- tsc: web/*.js against the generated types"
    node_modules/.bin/tsc -p tsconfig.json
    echo "-- tsc: the harness (e2e.mjs)"
    node_modules/.bin/tsc -p tsconfig.e2e.json
    echo "typecheck: ok"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_ready() {
    local url=$1 pid=$2
    for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -fs -o /dev/null --max-time 2 "$url" && return 0
        sleep 0.5
    done
    return 1
}

ensure_postgres() {
    local host_port="${PG_URL#*://}"
    host_port="${host_port#*@}"
    local host="${host_port%%:*}" port="${host_port##*:}"
    [[ "$port" == "$host_port" ]] && port=5432
    if ! pg_isready -h "$host" -p "$port" -q; then
        # As .ci/run does: start the machine's cluster when it is not up.
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
        for _ in $(seq 1 30); do pg_isready -h "$host" -p "$port" -q && break; sleep 1; done
    fi
    pg_isready -h "$host" -p "$port"
}

# Starts the binary on a fresh database of the kind $1; sets BASE_URL, STAFF_KEY.
start_binary() {
    local db=$1 db_url port server_log="$OUT/server-$db.log"
    case "$db" in
        sqlite) db_url="sqlite://$TMP/clinic-$db.db" ;;
        postgres)
            ensure_postgres
            PG_DB="clinic_page_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
            psql "$PG_URL/postgres" -qAtc "CREATE DATABASE \"$PG_DB\"" >/dev/null
            db_url="$PG_URL/$PG_DB"
            ;;
        *) echo "page: unknown database kind $db" >&2; return 1 ;;
    esac
    port="$(free_port)"
    BASE_URL="http://127.0.0.1:$port"
    echo "-- starting ${BIN#"$ROOT"/} on $BASE_URL ($db)"
    # The default (manual) payment provider: no Stripe settings leak in.
    env -u STRIPE_SECRET_KEY -u STRIPE_WEBHOOK_SECRET -u STRIPE_PUBLISHABLE_KEY -u STRIPE_API_BASE \
        DATABASE_URL="$db_url" BIND_ADDR="127.0.0.1:$port" SEED_CONTENT=true LOG_FORMAT=text NO_COLOR=1 \
        RUST_LOG="${RUST_LOG:-info}" "$BIN" serve >>"$server_log" 2>&1 &
    SERVER_PID=$!
    if ! wait_ready "$BASE_URL/health/ready" "$SERVER_PID"; then
        echo "page: the server did not become ready; its log:" >&2
        tail -n 20 "$server_log" >&2 || true
        return 1
    fi
    STAFF_KEY="$(DATABASE_URL="$db_url" "$BIN" api-key create --role staff --name page-test 2>>"$server_log")"
    [[ "$STAFF_KEY" == ck_* ]] || { echo "page: api-key create printed no key" >&2; return 1; }
    if [[ "${PAGE_DEV_SERVER:-0}" == 1 ]]; then
        local dev_port
        dev_port="$(free_port)"
        echo "-- PAGE_DEV_SERVER=1: ci/page/dev-server.py on 127.0.0.1:$dev_port in front of the binary (development aid only)"
        python3 "$HERE/dev-server.py" --upstream "$BASE_URL" --port "$dev_port" >>"$OUT/dev-server-$db.log" 2>&1 &
        DEV_PID=$!
        BASE_URL="http://127.0.0.1:$dev_port"
        wait_ready "$BASE_URL/health/live" "$DEV_PID" || { echo "page: the dev server did not start" >&2; return 1; }
    else
        local status
        status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE_URL/" || true)"
        if [[ "$status" != 200 ]]; then
            echo "page: GET / on the binary answered $status: it does not serve the page (web/)." >&2
            return 1
        fi
    fi
}

step_e2e_binary() {
    local db=$1 status=0
    # This step runs in its own subshell: it stops what it started (and drops
    # its database) however it ends.
    trap stop_servers EXIT
    trap 'exit 143' TERM
    start_binary "$db"
    STAFF_KEY="$STAFF_KEY" PAGE_OUTPUT="$OUT" PAGE_LABEL="$db" node "$HERE/e2e.mjs" "$BASE_URL" || status=$?
    stop_servers
    return "$status"
}

step_e2e_url() {
    PAGE_OUTPUT="$OUT" PAGE_LABEL=url node "$HERE/e2e.mjs" "$TARGET_URL"
}

if [[ " $STEPS " == *" typecheck "* ]]; then
    run_step typecheck step_typecheck
fi
if [[ " $STEPS " == *" e2e "* ]]; then
    if [[ "$MODE" == url ]]; then
        run_step e2e-url step_e2e_url
    else
        for db in $DATABASES; do
            run_step "e2e-$db" step_e2e_binary "$db"
        done
    fi
fi

log "summary ($((SECONDS - START))s in all)"
printf '  %s\n' "${RESULTS[@]}"
if [[ $FAILED -ne 0 ]]; then
    echo "page: FAILED"
    exit 1
fi
echo "page: all checks passed"

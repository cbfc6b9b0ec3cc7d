#!/usr/bin/env bash
# Runs the README's API tour as written, so that a README that drifts from
# the server fails CI.
#
#   bash ci/tour/run.sh target/debug/clinic-api
#
# The tour is every fenced block of README.md whose info string is `sh tour`
# or `sh day-of`, in order, run as one bash script (set -euo pipefail) from
# the repository's root. For each database kind (TOUR_DATABASES, default
# "sqlite postgres") the script starts two fresh servers from the binary on
# free loopback ports: the tour's (API=…, DATABASE_URL=… for the tour's own
# `cargo run -q -- api-key create`), and a rehearsal server with
# DEMO_CLOCK=true for the day-of blocks (REHEARSAL_API=…, REHEARSAL_DB=…).
# PostgreSQL databases `clinic_tour_<random>` are created on TOUR_PG_URL
# (default postgres://postgres@127.0.0.1:5432) and dropped afterwards.
#
# The tour's server sends its notifications to a real SMTP server process
# (Debian's python3-aiosmtpd, storing what it takes in a maildir), and
# check_mail.py then checks the messages the tour caused.
#
# Needs bash, curl, jq, cargo (the tour calls `cargo run -q`, which finds the
# binary already built), /usr/bin/python3 with aiosmtpd and, for PostgreSQL,
# psql. Talks to loopback only:
# webhook deliveries are not sent (WEBHOOK_POLL_MS is an hour), so the
# tour's example endpoint is never called. Output: test-output/tour/ (the
# extracted script, each run's trace, the servers' logs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${TOUR_OUTPUT:-$ROOT/test-output/tour}"
DATABASES="${TOUR_DATABASES:-sqlite postgres}"
PG_URL="${TOUR_PG_URL:-postgres://postgres@127.0.0.1:5432}"
exec </dev/null

die() { printf 'tour: %s\n' "$*" >&2; exit 2; }
[[ $# -eq 1 ]] || die "usage: bash ci/tour/run.sh path/to/clinic-api"
BIN="$(realpath -e "$1" 2>/dev/null)" || die "no such binary: $1"
for tool in curl jq cargo python3; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
SMTPD_PYTHON="${TOUR_SMTPD_PYTHON:-/usr/bin/python3}"
"$SMTPD_PYTHON" -c 'import aiosmtpd' 2>/dev/null ||
    die "aiosmtpd is required (Debian: apt-get install python3-aiosmtpd; .ci/run installs it)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/clinic-tour.XXXXXX")"
PIDS=()
PG_DBS=()

stop_all() {
    local pid db
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 70); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    for db in "${PG_DBS[@]}"; do
        psql "$PG_URL/postgres" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "tour: could not drop the database $db" >&2
    done
    PG_DBS=()
}
cleanup() {
    local status=$?
    trap - EXIT
    stop_all
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

rm -rf "$OUT"
mkdir -p "$OUT"

# --- the tour, as the README has it -----------------------------------------
SCRIPT="$OUT/tour.sh"
{
    echo '# Extracted from README.md by ci/tour/run.sh: the `sh tour` and `sh day-of` blocks, in order.'
    echo 'set -euo pipefail'
    awk '
        /^```sh (tour|day-of)[[:space:]]*$/ { inside = 1; blocks++; printf "\n# --- README.md line %d\n", NR; next }
        /^```/ && inside { inside = 0; next }
        inside { print }
        END { if (blocks < 2) exit 1 }
    ' "$ROOT/README.md"
} > "$SCRIPT" || die "README.md has no tour blocks"
grep -q '^R=' "$SCRIPT" || die "README.md has no day-of block"
echo "tour: $(grep -c '^# --- README.md line' "$SCRIPT") blocks, $(grep -vc '^\s*\(#\|$\)' "$SCRIPT") lines from README.md"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# new_database KIND NAME: prints a fresh database URL.
new_database() {
    case "$1" in
        sqlite) echo "sqlite://$TMP/$2.db" ;;
        postgres)
            local db
            db="clinic_tour_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
            psql "$PG_URL/postgres" -qAtc "CREATE DATABASE \"$db\"" >/dev/null
            PG_DBS+=("$db")
            echo "$PG_URL/$db"
            ;;
        *) die "unknown database kind $1" ;;
    esac
}

# start_smtpd PORT MAILDIR LOG: a real SMTP server process keeping each
# message it takes in MAILDIR.
start_smtpd() {
    local port=$1 maildir=$2 log=$3
    "$SMTPD_PYTHON" -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$maildir" \
        >>"$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 40); do
        "$SMTPD_PYTHON" -c 'import smtplib, sys; smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=1).quit()' \
            "$port" 2>/dev/null && return 0
        sleep 0.25
    done
    echo "tour: the SMTP server on port $port did not start; its log:" >&2
    tail -n 20 "$log" >&2
    return 1
}

# start_server URL PORT LOG [VAR=VALUE…]: starts the binary, waits until ready.
start_server() {
    local url=$1 port=$2 log=$3
    shift 3
    env -u STRIPE_SECRET_KEY -u STRIPE_WEBHOOK_SECRET -u STRIPE_PUBLISHABLE_KEY -u STRIPE_API_BASE \
        DATABASE_URL="$url" BIND_ADDR="127.0.0.1:$port" WEBHOOK_POLL_MS=3600000 LOG_FORMAT=text \
        RUST_LOG=info "$@" "$BIN" serve >>"$log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 120); do
        curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port/health/ready" && return 0
        kill -0 "${PIDS[-1]}" 2>/dev/null || break
        sleep 0.5
    done
    echo "tour: the server on port $port did not start; its log:" >&2
    tail -n 20 "$log" >&2
    return 1
}

declare -a RESULTS=()
FAILED=0
START=$SECONDS
for kind in $DATABASES; do
    t0=$SECONDS
    echo "==> tour on $kind"
    main_db="$(new_database "$kind" main)"
    rehearsal_db="$(new_database "$kind" rehearsal)"
    main_port="$(free_port)"
    rehearsal_port="$(free_port)"
    smtp_port="$(free_port)"
    maildir="$OUT/mail-$kind"
    status=ok
    if start_smtpd "$smtp_port" "$maildir" "$OUT/smtpd-$kind.log" &&
        start_server "$main_db" "$main_port" "$OUT/server-$kind.log" \
            SMTP_URL="smtp://127.0.0.1:$smtp_port" NOTIFY_FROM="JB Cosmetic <bookings@jb.example>" \
            CLINIC_NOTIFY_EMAIL=desk@jb.example NOTIFY_POLL_MS=200 &&
        start_server "$rehearsal_db" "$rehearsal_port" "$OUT/rehearsal-$kind.log" DEMO_CLOCK=true; then
        # The tour's shell: only what a reader's terminal would have, plus
        # where the servers are.
        if ! (cd "$ROOT" && env API="http://127.0.0.1:$main_port" DATABASE_URL="$main_db" \
            REHEARSAL_API="http://127.0.0.1:$rehearsal_port" REHEARSAL_DB="$rehearsal_db" \
            CARGO_TERM_COLOR=never timeout 600 bash -x "$SCRIPT") >"$OUT/tour-$kind.log" 2>&1; then
            status=FAILED
            echo "tour: FAILED on $kind; the end of its trace:" >&2
            tail -n 30 "$OUT/tour-$kind.log" >&2
        elif ! python3 "$HERE/check_mail.py" "$maildir" --client alex@example.com \
            --clinic desk@jb.example --dob 1990-04-12 --wait 30 >"$OUT/mail-$kind.log" 2>&1; then
            status=FAILED
            echo "tour: the notifications on $kind were not as they should be:" >&2
            cat "$OUT/mail-$kind.log" >&2
        fi
    else
        status=FAILED
    fi
    stop_all
    [[ $status == ok ]] || FAILED=1
    RESULTS+=("$(printf '%-10s %-7s %4ss  (trace: %s)' "$kind" "$status" $((SECONDS - t0)) "${OUT#"$ROOT"/}/tour-$kind.log")")
done

echo "==> tour summary ($((SECONDS - START))s in all)"
printf '  %s\n' "${RESULTS[@]}"
if [[ $FAILED -ne 0 ]]; then
    echo "tour: FAILED"
    exit 1
fi
echo "tour: the README's tour ran as written"

#!/usr/bin/env bash
# Benchmark harness: builds the release binary and the load generator, then
# measures the API on loopback against SQLite and/or PostgreSQL and writes
# the results table to BENCHMARKS.md (see bench/README.md).
#
#   bash bench/run.sh [sqlite|postgres|both] [--quick] [--out FILE] [bench.py options]
#
# Environment: CLINIC_API_BIN (use this binary, skip the cargo build),
# CARGO_TARGET_DIR (where the service builds; default target/),
# BENCH_LOADGEN_TARGET_DIR (default bench/loadgen/target),
# BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), BENCH_PG_DB
# (default bench_clinic; dropped and recreated each run).
set -euo pipefail
cd "$(dirname "$0")/.."
command_line="bash bench/run.sh${*:+ $*}"

backend=both
out=BENCHMARKS.md
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    sqlite | postgres | both) backend="$1" ;;
    --out) out="$2"; shift ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) extra+=("$1") ;;
  esac
  shift
done

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "bench: wrk is required (apt-get install wrk)" >&2
    exit 1
  fi
fi
# nginx serves the cached reads' bodies as static files for comparison;
# without it the report says "nginx not available" and the run goes on.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing nginx"
    # Only the binary is wanted: keep the package from starting its service.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      own_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null ||
      { apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null; } ||
      log "could not install nginx: the report will say nginx not available"
    [ "$own_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  else
    log "nginx not found: the static-file comparison is skipped (apt-get install nginx)"
  fi
fi
if [ "$backend" != sqlite ] && ! command -v psql >/dev/null 2>&1; then
  echo "bench: psql is required for the PostgreSQL run (or run: bash bench/run.sh sqlite)" >&2
  exit 1
fi

if [ -n "${CLINIC_API_BIN:-}" ]; then
  bin="$CLINIC_API_BIN"
else
  log "building clinic-api (release)"
  cargo build --release --locked --bin clinic-api
  bin="${CARGO_TARGET_DIR:-target}/release/clinic-api"
fi

log "building bench/loadgen (release)"
loadgen_target="${BENCH_LOADGEN_TARGET_DIR:-bench/loadgen/target}"
CARGO_TARGET_DIR="$loadgen_target" cargo build --release --locked --quiet \
  --manifest-path bench/loadgen/Cargo.toml
loadgen="$loadgen_target/release/loadgen"

exec python3 bench/bench.py --backend "$backend" --bin "$bin" --loadgen "$loadgen" \
  --out "$out" --workdir bench/out --command "$command_line" "${extra[@]}"

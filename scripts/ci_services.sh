#!/usr/bin/env bash
# Services the service tests need: PostgreSQL (queue tests) and Chromium (browser test).
#
#   eval "$(scripts/ci_services.sh)"     # then: pytest tests/test_service*.py tests/browser
#
# Idempotent: installs postgresql and chromium from Debian's packages only when missing,
# starts (or reuses) a throwaway PostgreSQL cluster listening on 127.0.0.1 only, on a free
# port, with trust auth (a local test cluster: never use it for real data), creates the test
# database, and prints `export VEGUARD_TEST_PG_URL=...` on stdout. Everything else goes to
# stderr, so the output is safe to eval.
# Environment: VEGUARD_PG_DIR (cluster directory, default /tmp/veguard-pg).
set -euo pipefail

PGDIR="${VEGUARD_PG_DIR:-/tmp/veguard-pg}"
DB=veguard_test
log() { echo "ci_services: $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

need=()
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q >&2
  as_root apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

BIN="$(pg_bin)"
[ -x "$BIN/initdb" ] || { log "no initdb under /usr/lib/postgresql/*/bin"; exit 1; }

# PostgreSQL refuses to run as root: run its tools as the postgres user then.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

mkdir -p "$PGDIR"
[ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
chmod 700 "$PGDIR"
if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
  log "initdb $PGDIR/data"
  as_pg "$BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
fi

if as_pg "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1 && [ -f "$PGDIR/port" ]; then
  PORT="$(cat "$PGDIR/port")"
  log "reusing the running cluster on 127.0.0.1:$PORT"
else
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  log "starting PostgreSQL on 127.0.0.1:$PORT"
  as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c max_connections=100 -c fsync=off" start >&2
  echo "$PORT" > "$PGDIR/port"
fi

if ! as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >&2
fi

echo "export VEGUARD_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"

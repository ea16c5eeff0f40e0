#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL 15 for the store tests, then print the line
#   export KHALTI_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:54329/khalti_test
# on stdout, so a caller can run:  eval "$(bash scripts/test-postgres.sh)"
# Everything else goes to stderr. Safe to run again: it reuses a running server.
# Without PostgreSQL binaries it warns and exits 0, and the PostgreSQL tests skip.
set -euo pipefail

PORT="${KHALTI_PG_PORT:-54329}"
DATA="${KHALTI_PG_DATA:-/tmp/khalti-pg15}"
DB="${KHALTI_PG_DB:-khalti_test}"
RUN_AS=postgres

log() { echo "test-postgres.sh: $*" >&2; }

BIN=""
for candidate in /usr/lib/postgresql/15/bin "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")"; do
    if [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" && -x "$candidate/postgres" ]]; then
        BIN="$candidate"
        break
    fi
done
if [[ -z "$BIN" ]]; then
    log "WARNING: PostgreSQL binaries not found; PostgreSQL tests will be skipped."
    exit 0
fi

# PostgreSQL refuses to run as root, so as root we run it as the postgres user.
as_pg() {
    if [[ "$(id -u)" == "0" ]]; then
        runuser -u "$RUN_AS" -- "$@"
    else
        "$@"
    fi
}
if [[ "$(id -u)" == "0" ]]; then
    if ! id "$RUN_AS" >/dev/null 2>&1; then
        log "creating OS user $RUN_AS"
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
    fi
    mkdir -p "$DATA"
    chown "$RUN_AS" "$DATA"
    chmod 700 "$DATA"
else
    mkdir -p "$DATA"
    chmod 700 "$DATA"
fi

if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb into $DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C >&2
fi

if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PORT"
    # A throwaway test server: durability settings off make per-test schemas cheap.
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
        -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >&2
fi

PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAq)
if [[ "$("${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]]; then
    log "creating database $DB"
    "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi

echo "export KHALTI_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"

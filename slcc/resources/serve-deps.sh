#!/usr/bin/env bash
# What the `slcc serve` tests need besides the engine, installed and started idempotently:
#   - chromium (Debian package) for the status-page test in a real headless browser;
#   - a private PostgreSQL cluster for the shared-queue tests: its own data directory, a unix
#     socket in its own directory, no TCP listener, trust authentication (test only).
#
#   bash slcc/resources/serve-deps.sh up       install what is missing, start the cluster, print its URL
#   bash slcc/resources/serve-deps.sh url      print the URL the tests use (SLCC_TEST_POSTGRES)
#   bash slcc/resources/serve-deps.sh down     stop the private cluster (its data stays)
# Environment: SLCC_PG_DIR (default /var/lib/slcc-test-pg), SLCC_PG_PORT (default 55432).
set -euo pipefail

PG_DIR="${SLCC_PG_DIR:-/var/lib/slcc-test-pg}"
PG_PORT="${SLCC_PG_PORT:-55432}"
PG_DATA="$PG_DIR/data"
PG_RUN="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"

log() { echo "serve-deps: $*"; }
die() { echo "serve-deps: ERROR: $*" >&2; exit 1; }

apt_install() { # apt_install PKG...
    [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
    log "apt-get install $*"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null || die "apt-get install $* failed"
    fi
}

pg_bin() { # the newest installed PostgreSQL's bin directory
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && echo "$dir"
}

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

url() { echo "postgresql://postgres@/postgres?host=$PG_RUN&port=$PG_PORT"; }

pg_up() {
    local bin
    bin=$(pg_bin) || true
    if [ -z "$bin" ]; then apt_install postgresql; bin=$(pg_bin) || die "no PostgreSQL after installing it"; fi
    if as_postgres "$bin/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT" 2>/dev/null; then
        log "PostgreSQL already answers on $PG_RUN (port $PG_PORT)"
        return
    fi
    mkdir -p "$PG_DIR" "$PG_RUN"
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR" "$PG_RUN"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        log "initdb $PG_DATA"
        as_postgres "$bin/initdb" --no-instructions -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    log "starting PostgreSQL ($("$bin/postgres" --version)) on $PG_RUN port $PG_PORT"
    as_postgres "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
        -o "-p $PG_PORT -k $PG_RUN -c listen_addresses=''" start >/dev/null \
        || die "PostgreSQL did not start; see $PG_LOG"
}

pg_down() {
    local bin
    bin=$(pg_bin) || return 0
    [ -f "$PG_DATA/postmaster.pid" ] && as_postgres "$bin/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null || true
}

chromium_up() {
    command -v chromium >/dev/null 2>&1 || apt_install chromium
    log "$(chromium --version 2>/dev/null | tail -n 1)"
}

case "${1:-up}" in
    up) chromium_up; pg_up; url ;;
    url) url ;;
    down) pg_down ;;
    *) die "usage: $0 up|url|down" ;;
esac

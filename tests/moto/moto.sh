#!/usr/bin/env bash
# Start or stop moto's server mode on loopback: a second, independent IMDS
# for tests/credentials.rs (imds_from_moto). moto also answers for many AWS
# services; only its /latest/... instance-metadata routes are used.
#
#   tests/moto/moto.sh start   # install if needed (pinned, hash-checked), start, wait
#   tests/moto/moto.sh stop    # kill the server started by `start`
#
# Everything lives under target/moto/: the venv, moto.pid and moto.log.
# Port: MOTO_PORT (default 5123), bound to 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/target/moto"
VENV="$OUT/venv"
PIDFILE="$OUT/moto.pid"
LOG="$OUT/moto.log"
REQUIREMENTS="$ROOT/tests/moto/requirements.txt"
MOTO_VERSION="$(sed -n 's/^moto==\([^ ]*\).*/\1/p' "$REQUIREMENTS")"
PORT="${MOTO_PORT:-5123}"
ENDPOINT="http://127.0.0.1:$PORT"

log() { echo "moto.sh: $*" >&2; }

install() {
    mkdir -p "$OUT"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    local installed
    installed="$("$VENV/bin/python" -c 'from importlib import metadata; print(metadata.version("moto"))' 2>/dev/null || true)"
    if [ "$installed" != "$MOTO_VERSION" ]; then
        log "installing moto==$MOTO_VERSION"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --only-binary=:all: --require-hashes --no-deps -r "$REQUIREMENTS"
    fi
}

running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

serves_imds() {
    [ "$(curl -s --max-time 2 -X PUT -H 'x-aws-ec2-metadata-token-ttl-seconds: 60' \
        "$ENDPOINT/latest/api/token" || true)" != "" ]
}

start() {
    install
    if pid="$(running_pid)" && serves_imds; then
        log "already running (pid $pid)"
        echo "$ENDPOINT"
        return 0
    fi
    if serves_imds; then
        log "something else already answers on $ENDPOINT (not started by this script); refusing"
        exit 1
    fi
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
        if serves_imds; then
            log "started (pid $(cat "$PIDFILE")) on $ENDPOINT"
            echo "$ENDPOINT"
            return 0
        fi
        sleep 0.2
    done
    log "no answer on $ENDPOINT after 20 s; see $LOG"
    stop
    exit 1
}

stop() {
    if pid="$(running_pid)"; then
        kill "$pid"
        log "stopped (pid $pid)"
    fi
    rm -f "$PIDFILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

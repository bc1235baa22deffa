#!/usr/bin/env bash
# Load benchmark of the release server on 127.0.0.1 with wrk (Debian package).
#
# Loads POST /api/uploads (the presign endpoint) and, in the same run, GET
# /healthz as the ceiling of what this machine and server can answer; at 64
# and 256 connections each. Reports requests/s, p50/p99 latency, the share
# of the ceiling that presigning keeps, the server's peak RSS (VmHWM) and
# the stripped binary's size.
#
#   benches/load.sh            # 10 s per run
#   DURATION=30s benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
PORT=${PORT:-3917}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
BIN=target/release/presign

WORK=$(mktemp -d)
LUA="$WORK/post.lua"
cat > "$LUA" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "filename=photo.jpg&type=image%2Fjpeg&size=123456"
LUA

# No rate limit (every request comes from one IP) and no access log
# (stderr would measure the terminal, not the server).
RATE_LIMIT_PER_MINUTE=0 ACCESS_LOG=off LOCAL_BUCKET_DIR="$WORK/data" \
  "$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

# Prints "requests/s p50 p99" of one wrk run.
run() {
  local out
  out=$(wrk -t"$THREADS" -c"$1" -d"$DURATION" --latency "${@:2}")
  if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
  awk '/Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print rps, p50, p99}' <<<"$out"
}

printf '%-12s %6s %12s %10s %10s %9s\n' endpoint conns "requests/s" p50 p99 "of ceiling"
for c in 64 256; do
  read -r h_rps h50 h99 < <(run "$c" "http://127.0.0.1:$PORT/healthz")
  read -r p_rps p50 p99 < <(run "$c" -s "$LUA" "http://127.0.0.1:$PORT/api/uploads")
  share=$(awk -v p="$p_rps" -v h="$h_rps" 'BEGIN {printf "%.0f%%", 100 * p / h}')
  printf '%-12s %6s %12s %10s %10s %9s\n' /healthz "$c" "$h_rps" "$h50" "$h99" ""
  printf '%-12s %6s %12s %10s %10s %9s\n' /api/uploads "$c" "$p_rps" "$p50" "$p99" "$share"
done
echo "peak RSS (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$SERVER/status")"
echo "binary (stripped, page inside): $(stat -c %s "$BIN") bytes"

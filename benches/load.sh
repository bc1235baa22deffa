#!/usr/bin/env bash
# Load benchmark of the release server on 127.0.0.1 with wrk (Debian package).
#
# Loads POST /api/uploads (the presign endpoint) and, in the same run, GET
# /healthz as the ceiling of what this machine and server can answer; at 64
# and 256 connections each. Reports requests/s, p50/p99 latency, the share
# of the ceiling that presigning keeps, the server's CPU time per request
# (user + system, from /proc), its peak RSS (VmHWM) and the stripped
# binary's size.
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

# Server CPU time so far, user + system, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# Prints "requests/s p50 p99 server-CPU-µs-per-request" of one wrk run.
run() {
  local out before after
  before=$(cpu_ticks)
  out=$(wrk -t"$THREADS" -c"$1" -d"$DURATION" --latency "${@:2}")
  after=$(cpu_ticks)
  if grep -q "Non-2xx" <<<"$out"; then echo "error: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
  awk -v ticks=$((after - before)) -v tick_us="$TICK_US" '
    /requests in/ {n=$1} /Requests\/sec/ {rps=$2} $1=="50%" {p50=$2} $1=="99%" {p99=$2}
    END {printf "%s %s %s %.1f\n", rps, p50, p99, ticks * tick_us / n}' <<<"$out"
}

printf '%-12s %6s %12s %10s %10s %9s %13s\n' endpoint conns "requests/s" p50 p99 "of ceiling" "server µs/req"
for c in 64 256; do
  read -r h_rps h50 h99 h_cpu < <(run "$c" "http://127.0.0.1:$PORT/healthz")
  read -r p_rps p50 p99 p_cpu < <(run "$c" -s "$LUA" "http://127.0.0.1:$PORT/api/uploads")
  share=$(awk -v p="$p_rps" -v h="$h_rps" 'BEGIN {printf "%.0f%%", 100 * p / h}')
  printf '%-12s %6s %12s %10s %10s %9s %13s\n' /healthz "$c" "$h_rps" "$h50" "$h99" "" "$h_cpu"
  printf '%-12s %6s %12s %10s %10s %9s %13s\n' /api/uploads "$c" "$p_rps" "$p50" "$p99" "$share" "$p_cpu"
done
echo "peak RSS (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$SERVER/status")"
echo "binary (stripped, page inside): $(stat -c %s "$BIN") bytes"

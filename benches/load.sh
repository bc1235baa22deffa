#!/usr/bin/env bash
# Load benchmark of the release server on 127.0.0.1 with wrk (Debian package),
# against a bare hyper server (benches/bare_hyper.rs) in the same run.
#
# Servers, started once, loaded in turn round after round (interleaved, so
# a busy neighbour on the machine weighs on all of them alike):
#   bare       hyper 1.x answering a fixed small JSON body, nothing else
#   floor      the same bare server doing only the work POST /api/uploads
#              cannot skip: two presigned URLs and their JSON
#              (benches/bare_presign.rs); default minus floor is what the
#              server around the signing costs
#   default    presign as shipped: access log on, its stderr to a file as a
#              container runtime collects it, one worker thread, rate limit
#              on. One change: RATE_LIMIT_PER_MINUTE is raised to 4e9, since
#              all load comes from one IP and the shipped 60/min would answer
#              nearly everything 429 (cheaper than a presign). The limiter's
#              lookup still runs on every request. Likewise
#              MAX_CONNECTIONS_PER_IP is raised from 64 to 1024 for the
#              256-connection run, which all comes from one address.
#   log-off    default with ACCESS_LOG=off
#   2-threads  default with WORKER_THREADS=2
# Each is loaded with POST /api/uploads (the presign endpoint; the bare
# server answers it too) by `wrk -t$THREADS -c64` for $DURATION per round.
# Per round and as medians: requests/s and its ratio to bare in the same
# round, and the server's CPU time per request (user + system of all its
# threads, from /proc/PID/stat), which wrk sharing the cores disturbs far
# less than requests/s; of which user time, the server's own code (system
# time is mostly the loopback network, and grows with every wake-up of
# wrk). Then one run at 256 connections each, each server's peak RSS
# (VmHWM), and the access log checked against the requests served.
#
# PIN=1 (the default on two or more cores) gives the servers CPU 0 and wrk
# CPU 1 (taskset), as a server has its core to itself in production and
# its clients elsewhere: otherwise a slower server leaves wrk idle, and
# waking it again costs the server more kernel time per request. The
# 2-threads server is not pinned: it is there to use both cores.
#
#   benches/load.sh                      # 3 rounds of 5 s
#   ROUNDS=5 DURATION=10s PIN=0 benches/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-1}
PORT=${PORT:-3917}
PIN=${PIN:-$(( $(nproc) >= 2 ))}
SERVER_CPU=() CLIENT_CPU=()
if ((PIN)); then
  taskset -c 0,1 true || { echo "PIN=1 needs taskset and CPUs 0 and 1 (PIN=0 to run unpinned)" >&2; exit 1; }
  SERVER_CPU=(taskset -c 0) CLIENT_CPU=(taskset -c 1)
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin presign --example bare_hyper --example bare_presign
BIN=target/release/presign

WORK=$(mktemp -d)
LUA="$WORK/post.lua"
cat > "$LUA" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "filename=photo.jpg&type=image%2Fjpeg&size=123456"
LUA

NAMES=(bare floor default log-off 2-threads)
declare -A PID ADDR
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

start() { # name port command...
  local name=$1 port=$2
  shift 2
  local pin=(${SERVER_CPU[@]+"${SERVER_CPU[@]}"})
  [[ $name == 2-threads ]] && pin=()
  ${pin[@]+"${pin[@]}"} "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
  PID[$name]=$!
  PIDS+=($!)
  ADDR[$name]="127.0.0.1:$port"
}
presign() { # name port VAR=value...
  local name=$1 port=$2
  shift 2
  start "$name" "$port" env RATE_LIMIT_PER_MINUTE=4000000000 MAX_CONNECTIONS_PER_IP=1024 LOCAL_BUCKET_DIR="$WORK/data" "$@" \
    "$BIN" serve --listen "127.0.0.1:$port"
}
start bare "$PORT" target/release/examples/bare_hyper "127.0.0.1:$PORT"
start floor $((PORT + 4)) target/release/examples/bare_presign "127.0.0.1:$((PORT + 4))"
presign default $((PORT + 1))
presign log-off $((PORT + 2)) ACCESS_LOG=off
presign 2-threads $((PORT + 3)) WORKER_THREADS=2
for name in "${NAMES[@]}"; do
  for _ in $(seq 50); do curl -sf -o /dev/null "http://${ADDR[$name]}/healthz" && break; sleep 0.1; done
done

# Server CPU time so far in clock ticks: "user+system user".
cpu_ticks() { awk '{print $14 + $15, $14}' "/proc/${PID[$1]}/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# Prints "requests/s p99 CPU-µs-per-request user-µs-per-request errors" of
# one wrk run (user: the server's own code, without the kernel's); adds
# the answers it counted to $WORK/NAME.served.
run() { # name connections duration
  local out before after user_before user_after
  read -r before user_before < <(cpu_ticks "$1")
  out=$(${CLIENT_CPU[@]+"${CLIENT_CPU[@]}"} wrk -t"$THREADS" -c"$2" -d"$3" --latency -s "$LUA" "http://${ADDR[$1]}/api/uploads")
  read -r after user_after < <(cpu_ticks "$1")
  awk '/requests in/ {print $1}' <<<"$out" >> "$WORK/$1.served"
  awk -v ticks=$((after - before)) -v user=$((user_after - user_before)) -v tick_us="$TICK_US" '
    /requests in/ {n=$1} /Requests\/sec/ {rps=$2} $1=="99%" {p99=$2}
    /Non-2xx/ {errors+=$NF} /Socket errors/ {gsub(",", ""); errors+=$4+$6+$8+$10}
    END {printf "%.0f %s %.2f %.2f %d\n", rps, p99, ticks * tick_us / n, user * tick_us / n, errors}' <<<"$out"
}

for name in "${NAMES[@]}"; do run "$name" 64 1s >/dev/null; done # warm-up

printf '%-5s %-10s %6s %11s %8s %9s %10s %8s %9s %7s\n' \
  round server conns "requests/s" "× bare" p99 "CPU µs/req" "× bare" "user µs" errors
ERRORS=0
declare -A RPS CPU
for round in $(seq "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    read -r rps p99 cpu user errors < <(run "$name" 64 "$DURATION")
    RPS[$name]=$rps CPU[$name]=$cpu
    ERRORS=$((ERRORS + errors))
    printf '%-5s %-10s %6s %11s %8s %9s %10s %8s %9s %7s\n' "$round" "$name" 64 "$rps" \
      "$(awk -v a="$rps" -v b="${RPS[bare]}" 'BEGIN {printf "%.2f", a / b}')" "$p99" "$cpu" \
      "$(awk -v a="$cpu" -v b="${CPU[bare]}" 'BEGIN {printf "%.2f", a / b}')" "$user" "$errors"
  done | tee -a "$WORK/rounds"
done

echo
echo "medians over $ROUNDS rounds at 64 connections (ratios: per round, then the median):"
awk '
  $2 == "bare" {next}
  {f[$1] = $2 == "floor" ? $8 : f[$1]; fl[$2] = fl[$2] " " ($2 == "floor" ? 1 : $8 / f[$1])}
  {r[$2] = r[$2] " " $5; c[$2] = c[$2] " " $8; v[$2] = v[$2] " " $4; u[$2] = u[$2] " " $7; o[$2] = o[$2] " " $9}
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) {t = a[i]; a[i] = a[j]; a[j] = t}
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    for (s in r) printf "  %-10s %8.0f requests/s = %.2f× bare, %6.2f µs CPU/request = %.2f× bare, %.2f× floor (user %.2f µs)\n",
      s, median(v[s]), median(r[s]), median(u[s]), median(c[s]), median(fl[s]), median(o[s])
  }' "$WORK/rounds" | sort
awk '$2 == "bare" {v = v " " $4; u = u " " $7; o = o " " $9}
  END {print "  bare rounds: requests/s" v ";  µs CPU/request" u ";  user µs" o}' "$WORK/rounds"

echo
echo "256 connections, $DURATION each:"
for name in "${NAMES[@]}"; do
  read -r rps p99 cpu user errors < <(run "$name" 256 "$DURATION")
  ERRORS=$((ERRORS + errors))
  printf '  %-10s %8s requests/s  p99 %8s  %6s µs CPU/request (user %5s)  %s errors\n' \
    "$name" "$rps" "$p99" "$cpu" "$user" "$errors"
done

echo
echo "peak RSS (VmHWM) after all runs:"
for name in "${NAMES[@]}"; do
  printf '  %-10s %s\n' "$name" "$(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/${PID[$name]}/status")"
done

# Stop the default server gracefully: every request it served is then in
# its log (wrk counts only the answers it waited for, so the log may hold
# up to one more request per connection per run).
kill -TERM "${PID[default]}"
for _ in $(seq 100); do kill -0 "${PID[default]}" 2>/dev/null || break; sleep 0.1; done
LINES=$(grep -c ' /api/uploads ' "$WORK/default.err" || true)
DROPPED=$(awk '/access log lines dropped/ {n += $3} END {print n + 0}' "$WORK/default.err")
echo
SERVED=$(awk '{n += $1} END {print n}' "$WORK/default.served")
echo "default's access log: $LINES lines for $SERVED answers counted by wrk, $DROPPED lines dropped," \
  "$(stat -c %s "$WORK/default.err") bytes"
echo "binary (stripped, page inside): $(stat -c %s "$BIN") bytes"
if ((ERRORS > 0)); then echo "error: $ERRORS failed requests" >&2; exit 1; fi

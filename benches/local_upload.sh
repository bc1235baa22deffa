#!/usr/bin/env bash
# Local-bucket upload throughput, on 127.0.0.1: one file (256 MiB by
# default) uploaded as a single presigned PUT and as a multipart upload
# (parts of MULTIPART_PART_BYTES, 4 at a time, then complete), against
# `cp` of the same file followed by `sync` of the copy (fsync, as the
# bucket syncs each object before placing it), in the same run.
#
# Rounds are interleaved (cp, PUT, multipart, cp, …) so a busy neighbour
# weighs on all alike; each reports MB/s and its ratio to cp in the same
# round, then the medians, the server's CPU time per upload (user +
# system, all threads: on a machine shared with other work, the figure
# that its load disturbs least), and its peak RSS (VmHWM). Every
# upload is timed from the request for its URL to the last answer
# (complete included) and checked byte for byte with cmp. The file lives
# on the same file system as the bucket; it is written once, so its pages
# are cached for every reader alike.
#
#   benches/local_upload.sh                  # 3 rounds of 256 MiB
#   ROUNDS=5 SIZE_MIB=512 benches/local_upload.sh
#   BIN=/path/to/other/presign MULTIPART=0 benches/local_upload.sh  # another build, PUT only
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-256}
ROUNDS=${ROUNDS:-3}
PARALLEL=${PARALLEL:-4}
MULTIPART=${MULTIPART:-1}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin presign
  BIN=$PWD/target/release/presign
fi

# Under target/: the same file system as the bucket's directory.
mkdir -p target/tmp
WORK=$(mktemp -d "$PWD/target/tmp/local-upload.XXXXXX")
ACCESS_LOG=off RATE_LIMIT_PER_MINUTE=0 UPLOAD_MAX_BYTES=$((SIZE_MIB * 1024 * 1024)) \
  LOCAL_BUCKET_DIR="$WORK/data" "$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
# A port taken by another server makes ours exit at once: give it the time
# to, so the health check below cannot be answered by the other one.
sleep 0.3
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
kill -0 $SERVER 2>/dev/null || { echo "error: the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

FILE="$WORK/file.bin"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$FILE"
BYTES=$(stat -c %s "$FILE")
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }
# The server's CPU time so far, in clock ticks (exited threads included).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICK=$(getconf CLK_TCK)
now() { date +%s.%N; }
mbps() { awk -v b="$BYTES" -v t="$1" 'BEGIN {if (t > 0) printf "%.0f", b / t / 1e6; else print "-"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

cp_sync() {
  local start=$(now)
  cp "$FILE" "$WORK/copy.bin"
  sync "$WORK/copy.bin"
  local end=$(now)
  rm -f "$WORK/copy.bin"
  awk -v a="$start" -v b="$end" 'BEGIN {print b - a}'
}

single_put() {
  local start=$(now) answer url key status
  answer=$(curl -sf -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
    --data "filename=f.png&type=image%2Fpng&size=$BYTES" "http://127.0.0.1:$PORT/api/uploads")
  url=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$answer")
  key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$answer")
  status=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -T "$FILE" -H 'Expect:' \
    -H 'Content-Type: image/png' -H 'If-None-Match: *' "$url")
  local end=$(now)
  [ "$status" = 200 ] || { echo "error: PUT answered $status" >&2; exit 1; }
  cmp -s "$FILE" "$WORK/data/$key" || { echo "error: stored PUT differs" >&2; exit 1; }
  rm -f "$WORK/data/$key"
  awk -v a="$start" -v b="$end" 'BEGIN {print b - a}'
}

# The page's multipart flow: create, part URLs (100 per request), parts
# PARALLEL at a time, complete. Prints the seconds, those of complete
# (assembling and syncing the object) and the key.
multipart() {
  python3 - "$PORT" "$FILE" "$PARALLEL" <<'PY'
import concurrent.futures, http.client, json, os, re, sys, time, urllib.parse
port, path, parallel = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
size = os.path.getsize(path)

def request(method, url, body=b"", headers=None):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    target = u.path + ("?" + u.query if u.query else "")
    conn.request(method, target, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    if r.status >= 300:
        sys.exit(f"{method} {u.path}: {r.status} {data[:300]!r}")
    return r, data

def api(step, fields):
    body = urllib.parse.urlencode(fields).encode()
    _, data = request("POST", f"http://127.0.0.1:{port}/api/multipart{step}", body,
                      {"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(data)

start = time.monotonic()
created = api("", {"filename": "f.png", "type": "image/png", "size": size})
_, xml = request("POST", created["create"]["url"], b"", created["create"]["headers"])
upload_id = re.search(rb"<UploadId>([^<]+)</UploadId>", xml).group(1).decode()
base = {"key": created["key"], "ticket": created["ticket"], "uploadId": upload_id}
numbers = list(range(1, created["partCount"] + 1))
urls = []
for i in range(0, len(numbers), 100):
    urls += api("/parts", {**base, "parts": ",".join(map(str, numbers[i:i + 100]))})["parts"]
part_size = created["partSize"]

def put(part):
    with open(path, "rb") as f:
        f.seek((part["partNumber"] - 1) * part_size)
        body = f.read(part["size"])
    r, _ = request("PUT", part["url"], body)
    return part["partNumber"], r.getheader("etag")

with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
    etags = sorted(pool.map(put, urls))
parts_done = time.monotonic()
complete = api("/complete", base)
xml = "<CompleteMultipartUpload>" + "".join(
    f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in etags
) + "</CompleteMultipartUpload>"
_, answer = request("POST", complete["url"], xml.encode(), complete["headers"])
if b"<CompleteMultipartUploadResult" not in answer:
    sys.exit(f"complete: {answer[:300]!r}")
end = time.monotonic()
print(end - start, end - parts_done, created["key"])
PY
}

printf '%6s %12s %12s %12s %10s %10s\n' round "cp+sync MB/s" "PUT MB/s" "multipart" "PUT/cp" "mp/cp"
CP=() PUT=() MP=() MPC=() PUT_CPU=() MP_CPU=()
for round in $(seq "$ROUNDS"); do
  c=$(cp_sync)
  t0=$(cpu_ticks)
  p=$(single_put)
  t1=$(cpu_ticks)
  m=0
  if [ "$MULTIPART" = 1 ]; then
    read -r m mc key < <(multipart)
    MPC+=("$mc")
    cmp -s "$FILE" "$WORK/data/$key" || { echo "error: stored multipart differs" >&2; exit 1; }
    rm -f "$WORK/data/$key"
  fi
  t2=$(cpu_ticks)
  CP+=("$c") PUT+=("$p") MP+=("$m") PUT_CPU+=($((t1 - t0))) MP_CPU+=($((t2 - t1)))
  printf '%6s %12s %12s %12s %10s %10s\n' "$round" "$(mbps "$c")" "$(mbps "$p")" "$(mbps "$m")" \
    "$(ratio "$c" "$p")" "$(ratio "$c" "$m")"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
c=$(median "${CP[@]}") p=$(median "${PUT[@]}") m=$(median "${MP[@]}")
printf '%6s %12s %12s %12s %10s %10s\n' median "$(mbps "$c")" "$(mbps "$p")" "$(mbps "$m")" \
  "$(ratio "$c" "$p")" "$(ratio "$c" "$m")"
secs() { awk -v t="$1" -v k="$TICK" 'BEGIN {printf "%.2f", t / k}'; }
[ "$MULTIPART" = 1 ] && echo "multipart: complete (assembling and syncing the object) took $(awk -v t="$(median "${MPC[@]}")" 'BEGIN {printf "%.2f", t}') s (median)"
echo "server CPU per upload (median): PUT $(secs "$(median "${PUT_CPU[@]}")") s, multipart $(secs "$(median "${MP_CPU[@]}")") s"
echo "server peak RSS (VmHWM): $(peak_kib) KiB; file $SIZE_MIB MiB, multipart $PARALLEL parts at a time"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

#!/usr/bin/env bash
# Memory and speed of browser POST uploads into the local bucket, on 127.0.0.1.
#
# Signs a POST form with `presign post` for each file size, sends it with curl
# (fields in order, the file last) and prints, after each upload, the
# server's peak RSS so far (VmHWM) and curl's upload speed. The file part is
# streamed to disk, so the peak must not grow with the file: the 1 GiB
# upload should leave it where the 1 MiB one did.
#
#   benches/post_upload.sh                 # 1 MiB, 64 MiB, 1 GiB
#   SIZES_MIB="1 16" benches/post_upload.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES_MIB=${SIZES_MIB:-1 64 1024}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
cargo build --release --quiet
BIN=$PWD/target/release/presign

WORK=$(mktemp -d)
export LOCAL_BUCKET_ACCESS_KEY_ID=BENCHKEY LOCAL_BUCKET_SECRET_ACCESS_KEY=bench-secret
ACCESS_LOG=off RATE_LIMIT_PER_MINUTE=0 UPLOAD_MAX_BYTES=5368709120 LOCAL_BUCKET_DIR="$WORK/data" \
  "$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
kill -0 $SERVER 2>/dev/null || { echo "error: the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }
echo "server peak RSS before any upload: $(peak_kib) KiB"
printf '%10s %8s %18s %16s\n' size status "peak RSS (KiB)" "upload MB/s"
for mib in $SIZES_MIB; do
  file="$WORK/upload-$mib.bin"
  head -c "$((mib * 1024 * 1024))" /dev/urandom > "$file"
  form=$(AWS_ACCESS_KEY_ID=$LOCAL_BUCKET_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$LOCAL_BUCKET_SECRET_ACCESS_KEY \
    "$BIN" post --bucket local --key "bench/$mib.bin" --max-bytes "$((mib * 1024 * 1024))" \
    --endpoint "http://127.0.0.1:$PORT/s3" --path-style --expires 600)
  args=()
  while IFS= read -r -d '' field; do args+=(--form-string "$field"); done < <(
    python3 -c 'import json,sys
for n, v in json.load(sys.stdin)["fields"].items(): sys.stdout.write(f"{n}={v}\0")' <<<"$form")
  url=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])' <<<"$form")
  read -r status speed < <(curl -s -o /dev/null -w '%{http_code} %{speed_upload}\n' \
    "${args[@]}" -F "file=@$file;type=application/octet-stream" "$url")
  [ "$status" = 204 ] || { echo "error: upload of $mib MiB answered $status" >&2; exit 1; }
  cmp -s "$file" "$WORK/data/bench/$mib.bin" || { echo "error: stored $mib MiB differs" >&2; exit 1; }
  rm -f "$file" "$WORK/data/bench/$mib.bin"
  printf '%7s MiB %8s %18s %16s\n' "$mib" "$status" "$(peak_kib)" \
    "$(awk -v s="$speed" 'BEGIN {printf "%.0f", s / 1000000}')"
done

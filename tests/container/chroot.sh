#!/usr/bin/env bash
# The static release binary in an empty root: no /dev, /etc, /proc, /tmp,
# locale or resolver files, only the binary and its data directory, as in
# the FROM scratch image (Dockerfile). Starts it there as an unprivileged
# user, uploads one file through the API and the local bucket with curl,
# reads it back and compares the bytes, then checks that the server wrote
# nothing outside /data.
#
# As root (CI): chroot --userspec=65534:65534. Otherwise: an unprivileged
# user namespace (unshare --map-root-user), where the kernel allows one.
# BIN=path uses a binary already built; by default it is built here.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=x86_64-unknown-linux-gnu
if [ -z "${BIN:-}" ]; then
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target "$target"
  BIN="target/$target/release/presign"
fi
if readelf -d "$BIN" | grep -q NEEDED; then
  echo "FAIL: $BIN needs shared libraries:" >&2
  readelf -d "$BIN" | grep NEEDED >&2
  exit 1
fi

root="$(mktemp -d)"
log="$root.log"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$root" "$root.log" "$root.png" "$root.back"
}
trap cleanup EXIT
chmod 755 "$root"
cp "$BIN" "$root/presign"
mkdir "$root/data"
token="chroot-metrics-token-0123456789abcdef"
vars=(LOCAL_BUCKET_DIR=/data "METRICS_TOKEN=$token")
chroot="$(PATH="$PATH:/usr/sbin:/sbin" command -v chroot)"
if [ "$(id -u)" = 0 ]; then
  chown 65534:65534 "$root/data"
  env -i "${vars[@]}" "$chroot" --userspec=65534:65534 "$root" /presign serve --listen 127.0.0.1:0 >"$log" 2>&1 &
else
  env -i "${vars[@]}" "$(command -v unshare)" --map-root-user "$chroot" "$root" /presign serve --listen 127.0.0.1:0 \
    >"$log" 2>&1 &
fi
server=$!
# The port the kernel chose, from the banner.
base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's|^presign: listening on \(http://127.0.0.1:[0-9]*\)/$|\1|p' "$log")"
  [ -n "$base" ] && break
  kill -0 "$server" 2>/dev/null || { echo "FAIL: the server exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { echo "FAIL: no banner in 10 s:" >&2; cat "$log" >&2; exit 1; }
curl -fsS "$base/healthz" >/dev/null

head -c 300000 /dev/urandom >"$root.png"
size=$(stat -c %s "$root.png")
answer="$(curl -fsS -X POST "$base/api/uploads" \
  --data-urlencode filename=a.png --data-urlencode type=image/png --data-urlencode "size=$size")"
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" <<<"$answer"; }
url="$(field url)"
view="$(field viewUrl)"
key="$(field key)"
status=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$root.png" \
  -H 'content-type: image/png' -H 'if-none-match: *' "$url")
[ "$status" = 200 ] || { echo "FAIL: PUT answered $status" >&2; cat "$log" >&2; exit 1; }
curl -fsS -o "$root.back" "$view"
cmp "$root.png" "$root.back"
stored=$(curl -fsS -H "Authorization: Bearer $token" "$base/metrics" |
  sed -n 's/^presign_local_bucket_objects_stored_total //p')
[ "$stored" = 1 ] || { echo "FAIL: /metrics counted $stored objects" >&2; exit 1; }

# Nothing but the binary, the object and the bucket's temporary directory.
unexpected="$(cd "$root" && find . -mindepth 1 | grep -v -x -e ./presign -e ./data \
  -e ./data/.presign-tmp -e "./data/$key" -e "./data/${key%/*}" -e "./data/${key%/*/*}" \
  -e "./data/${key%/*/*/*}" -e "./data/${key%/*/*/*/*}" || true)"
[ -z "$unexpected" ] || { echo "FAIL: files outside the object: $unexpected" >&2; exit 1; }
if grep -qi -e error -e panick "$log"; then
  echo "FAIL: the server logged an error:" >&2; cat "$log" >&2; exit 1
fi
echo "chroot: $(stat -c %s "$BIN") byte static binary served $size bytes from an empty root as $( [ "$(id -u)" = 0 ] && echo uid 65534 || echo a user namespace)"

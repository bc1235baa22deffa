#!/usr/bin/env python3
"""Reliability campaign against the release server on 127.0.0.1.

    cargo build --release && benches/reliability.py          # long form (about 2 minutes)
    benches/reliability.py short                             # short form, run by .ci/run

Each phase starts its own server (BIN, default target/release/presign) on
a fresh local bucket, and fails the script (exit 1) on the first broken
promise; every loop and wait is bounded.

1. soak: wrk with 256 connections on POST /api/uploads for 60 s (short:
   5 s) while 4 clients PUT objects of 1 to 8 MiB into the local bucket
   and read each back: 0 errors allowed; the server's VmRSS is sampled
   every second (min/max reported).
2. kill -9: 20 concurrent PUTs of 50 MiB, the server killed (SIGKILL)
   mid-way, restarted on the same directory: no object is partial (each
   key answers 404, or 200 with every byte), the temporary files the
   kill left are swept at start.
3. a client that closes mid-body leaves no object and no temporary file.
4. a slow body (1 byte/s) is cut once BODY_READ_TIMEOUT_SECONDS (10;
   short: 2) have passed, as the minimum rate (1024 B/s) is not met:
   400 RequestTimeout, nothing stored.
5. (root only: CI) the bucket on a small tmpfs: a PUT larger than the
   free space gets 507 InsufficientStorage, the file system remounted
   read-only gets 500 InternalError, both as S3 XML, nothing partial
   is left, and the server keeps answering (/healthz, GETs, later PUTs).
"""
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get("BIN", os.path.join(ROOT, "target", "release", "presign")))
SHORT = len(sys.argv) > 1 and sys.argv[1] == "short"


def free_port():
    """A port nothing listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = int(os.environ.get("PORT", "0")) or free_port()
SOAK_SECONDS = 5 if SHORT else 60
BODY_TIMEOUT = 2 if SHORT else 10
MIB = 1024 * 1024
KEY_ID, SECRET = "RELIABILITYKEY", "reliability-secret-reliability"
TMP_DIR = ".presign-tmp"
RANDOM = random.Random(14)
BLOB = RANDOM.randbytes(50 * MIB)


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


class Server:
    """The release binary on PORT with its local bucket in `data`."""

    def __init__(self, data, **extra):
        self.data = data
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOST": "127.0.0.1",
            "PORT": str(PORT),
            "LOCAL_BUCKET_DIR": data,
            "LOCAL_BUCKET_ACCESS_KEY_ID": KEY_ID,
            "LOCAL_BUCKET_SECRET_ACCESS_KEY": SECRET,
            "RATE_LIMIT_PER_MINUTE": "4000000000",
            "MAX_CONNECTIONS_PER_IP": "1024",
            "UPLOAD_MAX_BYTES": str(64 * MIB),
            "BODY_READ_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        }
        env.update(extra)
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [BIN], env=env, stdout=self.log, stderr=self.log, cwd=tempfile.gettempdir()
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            check(self.process.poll() is None, f"the server exited: {self.output()}")
            check(time.monotonic() < deadline, "the server did not start in 10 s")
            time.sleep(0.05)

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def objects(self):
        """Every file under the bucket but its temporary ones."""
        found = []
        for base, dirs, files in os.walk(self.data):
            if os.path.relpath(base, self.data).split(os.sep)[0] == TMP_DIR:
                continue
            found += [os.path.relpath(os.path.join(base, f), self.data) for f in files]
        return found

    def temp_files(self):
        tmp = os.path.join(self.data, TMP_DIR)
        return os.listdir(tmp) if os.path.isdir(tmp) else []


def request(method, target, body=b"", headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response
    finally:
        conn.close()


def target_of(url):
    return re.sub(r"^http://[^/]+", "", url)


def upload_url(size):
    """A presigned PUT for `size` bytes: (target, headers, view target, key)."""
    form = f"filename=a.png&type=image%2Fpng&size={size}"
    status, body, _ = request(
        "POST",
        "/api/uploads",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    check(status == 201, f"POST /api/uploads answered {status}: {body[:300]!r}")
    answer = json.loads(body)
    return (
        target_of(answer["url"]),
        answer["headers"],
        target_of(answer["viewUrl"]),
        answer["key"],
    )


def s3_code(body):
    match = re.search(rb"<Code>([^<]*)</Code>", body)
    return match.group(1).decode() if match else None


def raw_put(target, headers, length):
    """A socket with the head of a PUT of `length` bytes sent."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=60)
    head = f"PUT {target} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    s.sendall(head.encode())
    return s


def read_response(s):
    """Status and body of what the server sent before closing."""
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else None
    return status, body


def wait_for(condition, seconds, message):
    deadline = time.monotonic() + seconds
    while not condition():
        check(time.monotonic() < deadline, message)
        time.sleep(0.05)


def soak(work):
    server = Server(os.path.join(work, "soak"), ACCESS_LOG="off")
    lua = os.path.join(work, "post.lua")
    with open(lua, "w") as f:
        f.write(
            'wrk.method = "POST"\n'
            'wrk.body = "filename=a.png&type=image%2Fpng&size=1000"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        )
    samples, puts, failures, stop = [], [0, 0], [], threading.Event()

    def sample():
        while not stop.wait(1):
            samples.append(server.rss_kib())

    def putter(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            size = rng.randint(MIB, 8 * MIB)
            offset = rng.randint(0, len(BLOB) - size)
            body = BLOB[offset : offset + size]
            try:
                target, headers, view, _ = upload_url(size)
                status, answer, _ = request("PUT", target, body, headers, timeout=60)
                if status != 200:
                    failures.append(f"PUT {size} answered {status}: {answer[:200]!r}")
                    continue
                status, back, _ = request("GET", view, timeout=60)
                if status != 200 or back != body:
                    failures.append(f"GET back answered {status}, {len(back)} of {size} bytes")
                    continue
                puts[0] += 1
                puts[1] += size
            except OSError as e:
                failures.append(f"PUT {size}: {e}")

    threads = [threading.Thread(target=sample)] + [
        threading.Thread(target=putter, args=(i,)) for i in range(4)
    ]
    for t in threads:
        t.start()
    wrk = subprocess.run(
        ["wrk", "-t2", "-c256", f"-d{SOAK_SECONDS}s", "--timeout", "10s", "-s", lua,
         f"http://127.0.0.1:{PORT}/api/uploads"],
        capture_output=True, text=True, timeout=SOAK_SECONDS + 60,
    )
    stop.set()
    for t in threads:
        t.join(timeout=120)
    peak = server.rss_kib("VmHWM")
    server.stop()
    out = wrk.stdout
    requests = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    check(wrk.returncode == 0 and requests, f"wrk failed: {out} {wrk.stderr}")
    print(
        f"soak: {SOAK_SECONDS} s, wrk 256 connections: {requests.group(1)} POST /api/uploads "
        f"({rate.group(1)}/s), non-2xx {non2xx.group(1) if non2xx else 0}, "
        f"socket errors: {socket_errors.group(1) if socket_errors else 'none'}"
    )
    print(
        f"soak: {puts[0]} PUTs of 1-8 MiB read back intact ({puts[1] / MIB:.0f} MiB), "
        f"{len(failures)} failures"
    )
    print(
        f"soak: VmRSS every second, {len(samples)} samples: min {min(samples) / 1024:.1f} MiB, "
        f"max {max(samples) / 1024:.1f} MiB; VmHWM {peak / 1024:.1f} MiB"
    )
    check(not non2xx and not socket_errors, "wrk saw errors")
    check(not failures, f"PUT failures: {failures[:5]}")
    check(puts[0] > 0, "no PUT completed during the soak")


def kill_during_puts(work):
    data = os.path.join(work, "kill")
    server = Server(data, ACCESS_LOG="off")
    urls = [upload_url(50 * MIB) for _ in range(20)]
    sent = [0] * 20

    def put(i):
        target, headers, _, _ = urls[i]
        try:
            s = raw_put(target, headers, 50 * MIB)
            s.sendall(bytes([i]))
            for offset in range(1, 50 * MIB, 256 * 1024):
                s.sendall(BLOB[offset : min(offset + 256 * 1024, 50 * MIB)])
                sent[i] += 256 * 1024
            read_response(s)
        except OSError:
            pass  # the server was killed under it

    threads = [threading.Thread(target=put, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    wait_for(lambda: sum(sent) > 200 * MIB, 60, "the PUTs did not get going")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    for t in threads:
        t.join(timeout=60)
    partial = server.temp_files()
    before = server.objects()
    server = Server(data, ACCESS_LOG="off")
    check(server.temp_files() == [], f"temporary files left after restart: {server.temp_files()}")
    complete = 0
    for i, (_, _, view, key) in enumerate(urls):
        status, body, _ = request("GET", view, timeout=60)
        if status == 200:
            check(
                len(body) == 50 * MIB and body[0] == i and body[1:] == BLOB[1 : 50 * MIB],
                f"{key} is served partial: {len(body)} bytes",
            )
            complete += 1
        else:
            check(status == 404 and s3_code(body) == "NoSuchKey", f"{key}: {status} {body[:200]!r}")
    check(len(server.objects()) == complete, f"files besides the complete objects: {server.objects()}")
    server.stop()
    print(
        f"kill -9: after {sum(sent) / MIB:.0f} MiB of 20 x 50 MiB PUTs: {len(partial)} temporary "
        f"files and {len(before)} objects on disk at the kill; after restart 0 temporary files, "
        f"{complete} complete objects served, {20 - complete} keys 404, none partial"
    )


def closes_mid_body(work):
    server = Server(os.path.join(work, "close"), ACCESS_LOG="off")
    target, headers, view, key = upload_url(4 * MIB)
    s = raw_put(target, headers, 4 * MIB)
    s.sendall(BLOB[: MIB + 12345])
    wait_for(lambda: server.temp_files() != [], 10, "no temporary file while the body came")
    s.close()
    wait_for(lambda: server.temp_files() == [], 10, "the temporary file stayed")
    status, body, _ = request("GET", view)
    check(status == 404, f"{key} after a cut body: {status}")
    check(server.objects() == [], f"objects after a cut body: {server.objects()}")
    check(request("GET", "/healthz")[0] == 200, "the server stopped answering")
    server.stop()
    print("client closed mid-body (1 MiB of 4): no object, temporary file removed, server answering")


def slow_body(work):
    server = Server(os.path.join(work, "slow"), ACCESS_LOG="off")
    target, headers, view, _ = upload_url(100)
    s = raw_put(target, headers, 100)
    started = time.monotonic()
    status, body = None, b""
    # The receive timeout paces the sender: one byte, then up to 1 s
    # waiting for an answer.
    s.settimeout(1.0)
    for i in range(60):
        try:
            s.sendall(BLOB[i : i + 1])
        except OSError:
            s.settimeout(5)
            status, body = read_response(s)
            break
        try:
            status, body = read_response_once(s)
            break
        except socket.timeout:
            continue
    elapsed = time.monotonic() - started
    check(status == 400 and s3_code(body) == "RequestTimeout", f"slow body: {status}")
    check(BODY_TIMEOUT <= elapsed <= BODY_TIMEOUT + 3, f"cut after {elapsed:.1f} s")
    check(request("GET", view)[0] == 404 and server.objects() == [], "a slow body left an object")
    wait_for(lambda: server.temp_files() == [], 10, "the slow body's temporary file stayed")
    server.stop()
    print(
        f"slow body at 1 byte/s: 400 RequestTimeout after {elapsed:.1f} s "
        f"(BODY_READ_TIMEOUT_SECONDS={BODY_TIMEOUT}), nothing stored"
    )


def read_response_once(s):
    """A response, if the server has sent one (it closes after it)."""
    chunk = s.recv(65536)
    if not chunk:
        return None, b""
    data = chunk
    s.settimeout(5)
    try:
        while more := s.recv(65536):
            data += more
    except (ConnectionResetError, socket.timeout):
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def put_expecting_refusal(target, headers, length):
    """A PUT whose body the server may stop reading: its answer."""
    s = raw_put(target, headers, length)
    try:
        for offset in range(0, length, 64 * 1024):
            s.sendall(BLOB[offset : min(offset + 64 * 1024, length)])
    except OSError:
        pass  # the server answered and closed before the end
    s.settimeout(10)
    return read_response(s)


def full_and_read_only(work):
    if os.geteuid() != 0:
        print("full / read-only disk: skipped (needs root to mount a tmpfs)")
        return
    mount = os.path.join(work, "tmpfs")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mount], check=True)
    try:
        server = Server(os.path.join(mount, "data"), ACCESS_LOG="off")
        small = BLOB[: 100 * 1024]
        target, headers, view, _ = upload_url(len(small))
        check(request("PUT", target, small, headers)[0] == 200, "a small PUT failed")
        # Larger than the file system: refused when the disk fills up.
        target, headers, big_view, _ = upload_url(12 * MIB)
        status, body = put_expecting_refusal(target, headers, 12 * MIB)
        check(status == 507 and s3_code(body) == "InsufficientStorage", f"full: {status} {body[:300]!r}")
        wait_for(lambda: server.temp_files() == [], 10, "a temporary file stayed after ENOSPC")
        check(request("GET", big_view)[0] == 404, "the refused object is visible")
        check(len(server.objects()) == 1, f"objects: {server.objects()}")
        target, headers, _, _ = upload_url(len(small))
        check(request("PUT", target, small, headers)[0] == 200, "no PUT after the disk was full")
        # Read-only: every write fails; reads go on.
        subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
        target, headers, ro_view, _ = upload_url(len(small))
        status, body = put_expecting_refusal(target, headers, len(small))
        check(status == 500 and s3_code(body) == "InternalError", f"read-only: {status} {body[:300]!r}")
        check(request("GET", ro_view)[0] == 404, "an object appeared on a read-only disk")
        check(request("GET", view)[1] == small, "reads stopped on a read-only disk")
        check(request("GET", "/healthz")[0] == 200, "the server stopped answering")
        subprocess.run(["mount", "-o", "remount,rw", mount], check=True)
        target, headers, _, _ = upload_url(len(small))
        check(request("PUT", target, small, headers)[0] == 200, "no PUT after remounting rw")
        log = server.output()
        server.stop()
        check("No space left on device" in log, "the log does not say the disk was full")
        print(
            "disk full (8 MiB tmpfs, 12 MiB PUT): 507 InsufficientStorage, nothing partial; "
            "read-only: 500 InternalError, reads and /healthz still answered; PUTs work again after"
        )
    finally:
        subprocess.run(["umount", "-l", mount], check=False)


def main():
    check(os.path.exists(BIN), f"{BIN} missing: cargo build --release")
    work = tempfile.mkdtemp(prefix="presign-reliability-")
    try:
        print(f"{'short' if SHORT else 'long'} form, {BIN}, port {PORT}", flush=True)
        for phase in (soak, kill_during_puts, closes_mid_body, slow_body, full_and_read_only):
            phase(work)
            sys.stdout.flush()
        print("reliability: all checks passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

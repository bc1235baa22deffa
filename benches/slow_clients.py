#!/usr/bin/env python3
"""Slow and non-reading clients against the release server on 127.0.0.1.

Four runs, default limits, each bounded in time:

0. 5,000 idle connects from one address: how many the server keeps, and
   /healthz from another address meanwhile.
0b. 1,000 request heads of 30 KiB that never end: the server's RSS.

1. 1,000 connections send the head of POST /api/uploads and then one body
   byte a second (from 20 loopback source addresses, 50 each, under the
   per-address cap). Meanwhile a separate client (127.0.0.200) times
   GET /healthz. Reports its latencies and when the slow bodies were cut.
2. 1,000 clients GET a 50 MiB object and never read (20 addresses x 50).
   Reports the server's RSS over time, its peak (VmHWM) and what is left
   once the write timeout has dropped them.

    cargo build --release && benches/slow_clients.py
"""
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "presign")
PORT = int(os.environ.get("PORT", "3931"))
CLIENTS = 1000
SOURCES = [f"127.0.0.{i}" for i in range(2, 22)]  # 20 addresses x 50
KEY_ID, SECRET = "BENCHKEY", "bench-secret-bench-secret"
OBJECT_BYTES = 50 * 1024 * 1024


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def connect(source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", PORT))
    return s


def healthz_ms():
    started = time.monotonic()
    s = socket.socket()
    s.bind(("127.0.0.200", 0))
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", PORT))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = s.recv(100)
        if not answer.startswith(b"HTTP/1.1 200"):
            return None
        return (time.monotonic() - started) * 1000
    except OSError:
        return None
    finally:
        s.close()


def open_all(head):
    conns = []
    for i in range(CLIENTS):
        s = connect(SOURCES[i % len(SOURCES)])
        s.sendall(head)
        conns.append(s)
    return conns


def slow_bodies():
    head = (b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n")
    started = time.monotonic()
    conns = open_all(head)
    print(f"slow bodies: {len(conns)} connections open in {time.monotonic() - started:.1f} s")
    latencies, failures, cut_at = [], 0, []
    alive = list(conns)
    for second in range(15):
        for s in list(alive):
            try:
                s.send(b"x")
            except OSError:
                alive.remove(s)
                cut_at.append(second)
        ms = healthz_ms()
        if ms is None:
            failures += 1
        else:
            latencies.append(ms)
        if not alive:
            break
        time.sleep(1)
    for s in conns:
        s.close()
    if latencies:
        print(f"/healthz while they were held: {len(latencies)} answered, {failures} failed; "
              f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms")
    print(f"slow bodies cut by the server: {len(cut_at)} of {CLIENTS}"
          + (f", after {min(cut_at)}-{max(cut_at)} s" if cut_at else ""))


def idle_connects():
    conns, refused = [], 0
    for _ in range(5000):
        try:
            conns.append(connect("127.0.0.2"))
        except OSError:
            refused += 1
    time.sleep(1)
    latencies = [healthz_ms() for _ in range(5)]
    answered_503 = 0
    for s in conns:
        s.settimeout(0)
        try:
            answered_503 += s.recv(64).startswith(b"HTTP/1.1 503")
        except OSError:
            pass
        s.close()
    ok = [ms for ms in latencies if ms is not None]
    print(f"idle connects from one address: {len(conns)} connected, {answered_503} answered 503 "
          f"(so {len(conns) - answered_503} kept), {refused} refused by the kernel; "
          f"/healthz from another address {len(ok)}/5, max {max(ok) if ok else float('nan'):.1f} ms")


def unfinished_heads(pid):
    filler = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + filler * 30
    before = rss_kib(pid)
    conns = open_all(head)
    time.sleep(2)
    during = rss_kib(pid)
    for s in conns:
        s.close()
    print(f"1,000 unfinished 30 KiB heads: RSS {before // 1024} MiB before, {during // 1024} MiB held")


def unread_gets(pid, url_target):
    head = f"GET {url_target} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode()
    before = rss_kib(pid)
    conns = open_all(head)
    samples = []
    started = time.monotonic()
    while time.monotonic() - started < 45:
        samples.append((time.monotonic() - started, rss_kib(pid)))
        time.sleep(1)
        if samples[-1][0] > 5 and samples[-1][1] < samples[0][1] and len(samples) > 3 \
                and samples[-1][1] == samples[-2][1] == samples[-3][1]:
            break
    for s in conns:
        s.close()
    time.sleep(1)
    print(f"unread GETs of {OBJECT_BYTES >> 20} MiB: RSS before {before // 1024} MiB; "
          + ", ".join(f"{t:.0f}s {kib // 1024} MiB" for t, kib in samples[::5]))
    print(f"peak RSS (VmHWM) {rss_kib(pid, 'VmHWM') // 1024} MiB; "
          f"after the clients closed {rss_kib(pid) // 1024} MiB")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 8192), hard), hard))
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        os.makedirs(data)
        with open(os.path.join(data, "big.bin"), "wb") as f:
            f.write(os.urandom(OBJECT_BYTES))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": work, "ACCESS_LOG": "off",
               "RATE_LIMIT_PER_MINUTE": "0", "LOCAL_BUCKET_DIR": data,
               "LOCAL_BUCKET_ACCESS_KEY_ID": KEY_ID, "LOCAL_BUCKET_SECRET_ACCESS_KEY": SECRET}
        server = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{PORT}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(50):
                if healthz_ms() is not None:
                    break
                time.sleep(0.1)
            url = subprocess.run(
                [BIN, "url", "--bucket", "local", "--key", "big.bin", "--path-style",
                 "--endpoint", f"http://127.0.0.1:{PORT}/s3", "--expires", "600"],
                env={**env, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET},
                check=True, capture_output=True, text=True).stdout.strip()
            target = url.split(f"127.0.0.1:{PORT}", 1)[1]
            print(f"server idle: RSS {rss_kib(server.pid) // 1024} MiB")
            idle_connects()
            unfinished_heads(server.pid)
            slow_bodies()
            unread_gets(server.pid, target)
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())

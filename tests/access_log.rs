//! The access log of the real binary, on its real stderr: complete after a
//! graceful stop under load, harmless when nobody reads it, parseable as
//! JSON.
#![cfg(feature = "server")]

#[path = "common/binary.rs"]
mod binary;
#[path = "common/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Starts `presign serve` on a free port with the local bucket and `vars`;
/// stderr is a pipe the test reads, or not.
fn start(vars: &[(&str, &str)]) -> (Child, SocketAddr) {
    let binary::Served {
        child,
        addr,
        mut stdout,
        ..
    } = binary::serve(binary::command(), "access-log", vars);
    // Kept open: the server prints "stopped" there at the end.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, addr)
}

/// Reads all of stderr in the background, so the server can finish.
fn drain(stderr: ChildStderr) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(stderr).read_to_string(&mut text).unwrap();
        text
    })
}

/// SIGTERM, then a successful exit within 15 s.
fn stop(child: &mut Child) {
    let exit = binary::stop_with_sigterm(child, Duration::from_secs(15));
    assert!(exit.success(), "{exit:?}");
}

/// A keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(addr: SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Connection {
            reader: BufReader::new(stream),
        }
    }

    /// Sends `request` (a head without its final blank line, then
    /// `body`), returns the status, or `None` if the server has closed.
    fn send(&mut self, head: &str, body: &[u8]) -> Option<u16> {
        let stream = self.reader.get_mut();
        let mut request = format!("{head}\r\nHost: 127.0.0.1\r\n");
        if !body.is_empty() {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        stream.write_all(&bytes).ok()?;
        let mut line = String::new();
        self.reader.read_line(&mut line).ok()?;
        let status = line.split(' ').nth(1)?.parse().ok()?;
        let mut length = 0;
        loop {
            line.clear();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().ok()?;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).ok()?;
        Some(status)
    }
}

const FORM: &[u8] = b"filename=a.png&type=image%2Fpng&size=10";

#[test]
fn every_request_served_is_logged_after_a_graceful_stop_under_load() {
    let (mut child, addr) = start(&[]);
    let log = drain(child.stderr.take().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let served = served.clone();
            std::thread::spawn(move || {
                let mut connection = Connection::open(addr);
                // Until the server closes the connection; bounded anyway.
                for i in 0..200_000 {
                    let answered = if i % 2 == 0 {
                        connection.send("GET /healthz HTTP/1.1", b"")
                    } else {
                        connection.send(
                            "POST /api/uploads?token=query-secret HTTP/1.1\r\n\
                             Content-Type: application/x-www-form-urlencoded",
                            FORM,
                        )
                    };
                    if answered.is_none() {
                        break;
                    }
                    served.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while served.load(Ordering::Relaxed) < 4_000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop(&mut child);
    for client in clients {
        client.join().unwrap();
    }
    let served = served.load(Ordering::Relaxed);
    let log = log.join().unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" /healthz ") || l.contains(" /api/uploads "))
        .collect();
    assert!(served >= 1_000, "only {served} requests served");
    assert_eq!(
        lines.len(),
        served,
        "{}",
        &log[log.len().saturating_sub(2000)..]
    );
    assert!(lines.iter().any(|l| l.contains(" POST /api/uploads 201 ")));
    assert!(lines.iter().any(|l| l.contains(" POST /api/uploads 429 ")));
    assert!(
        !log.contains("query-secret") && !log.contains("dropped"),
        "{log}"
    );
}

#[test]
fn a_stderr_nobody_reads_does_not_stop_the_server() {
    let (mut child, addr) = start(&[]);
    // Lines of about 1 KiB: 1,000 of them are far more than the pipe and
    // the log's buffer hold, so the log's writer is stuck on a full pipe.
    let long_path = format!("/{}", "x".repeat(1000));
    let mut connection = Connection::open(addr);
    let sent = 1_000;
    for _ in 0..sent {
        let status = connection.send(&format!("GET {long_path} HTTP/1.1"), b"");
        assert_eq!(status, Some(404));
    }
    let started = Instant::now();
    assert_eq!(
        Connection::open(addr).send("GET /healthz HTTP/1.1", b""),
        Some(200)
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // Reading stderr again lets the writer through: what it kept, then how
    // many lines it dropped.
    let log = drain(child.stderr.take().unwrap());
    stop(&mut child);
    let log = log.join().unwrap();
    let logged = log.lines().filter(|l| l.contains(&long_path)).count();
    let dropped: usize = log
        .lines()
        .find(|l| l.contains("access log lines dropped"))
        .and_then(|l| l.split(' ').nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line reporting dropped lines in:\n{log}"));
    assert!(
        logged > 0 && dropped > 0,
        "{logged} logged, {dropped} dropped"
    );
    assert_eq!(logged + dropped, sent);
    assert!(log.contains(" GET /healthz 200 "), "{log}");
}

#[test]
fn json_lines_parse_without_query_strings_or_raw_non_ascii() {
    let (mut child, addr) = start(&[("ACCESS_LOG", "json")]);
    let log = drain(child.stderr.take().unwrap());
    let mut connection = Connection::open(addr);
    assert_eq!(connection.send("GET /healthz HTTP/1.1", b""), Some(200));
    assert_eq!(
        connection.send(
            "POST /api/uploads?X-Amz-Signature=query-secret HTTP/1.1\r\n\
             Content-Type: application/x-www-form-urlencoded",
            FORM,
        ),
        Some(201)
    );
    // U+202E (right-to-left override) sent raw, as a hostile client would.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(
        b"GET /x\xE2\x80\xAEgnp.exe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = Vec::new();
    raw.read_to_end(&mut answer).unwrap();
    stop(&mut child);
    let log = log.join().unwrap();
    assert!(log.is_ascii(), "{log}");
    assert!(!log.contains("query-secret"), "{log}");
    let entries: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(entries.len(), 3, "{log}");
    assert_eq!(entries[0]["method"], "GET");
    assert_eq!(entries[0]["path"], "/healthz");
    assert_eq!(entries[0]["status"], 200);
    assert_eq!(entries[0]["bytes"], 2);
    assert_eq!(entries[0]["client"], "127.0.0.1");
    assert_eq!(entries[1]["path"], "/api/uploads");
    assert_eq!(entries[1]["status"], 201);
    assert!(entries[1]["ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert_eq!(entries[2]["path"], "/x\\xE2\\x80\\xAEgnp.exe");
    assert_eq!(entries[2]["status"], 404);
    for entry in &entries {
        let time = entry["time"].as_str().unwrap();
        assert_eq!(time.len(), 20, "{time}");
        assert!(time.ends_with('Z'));
    }
}

//! HTTP-level abuse over raw sockets: heads too large or with too many
//! fields, framing that could smuggle a request (`Transfer-Encoding` with
//! `Content-Length`, two lengths, unknown codings), absolute-form targets
//! naming another host, pipelined requests, broken header lines. Each is
//! answered with a 4xx (or the connection closed, where HTTP/1.1 leaves
//! no way to answer) and the server goes on serving. Every wait is bounded.
#![cfg(feature = "server")]

#[path = "common/server.rs"]
mod server;

use server::TestServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Sends `raw` and returns every byte the server sends until it closes
/// (or 10 s pass).
fn exchange(s: &TestServer, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may close before taking everything: that is an answer.
    let _ = stream.write_all(raw);
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The status of each response in `text`, in order.
fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text[i + 9..i + 12].parse().ok())
        .collect()
}

/// The server still answers a plain request.
fn still_serving(s: &TestServer) {
    let answer = exchange(
        s,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            s.addr
        )
        .as_bytes(),
    );
    assert_eq!(statuses(&answer), [200], "{answer}");
}

fn head(s: &TestServer, request_line: &str, fields: &str) -> Vec<u8> {
    format!(
        "{request_line}\r\nHost: {}\r\n{fields}Connection: close\r\n\r\n",
        s.addr
    )
    .into_bytes()
}

#[test]
fn a_huge_header_is_431() {
    let s = TestServer::start(&[]);
    let big = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
    let answer = exchange(&s, &head(&s, "GET /healthz HTTP/1.1", &big));
    assert_eq!(statuses(&answer), [431], "{answer}");
    still_serving(&s);
}

#[test]
fn too_many_header_fields_are_431() {
    let s = TestServer::start(&[]);
    let many: String = (0..200).map(|i| format!("X-{i}: a\r\n")).collect();
    let answer = exchange(&s, &head(&s, "GET /healthz HTTP/1.1", &many));
    assert_eq!(statuses(&answer), [431], "{answer}");
    still_serving(&s);
}

#[test]
fn transfer_encoding_with_content_length_smuggles_nothing() {
    let s = TestServer::start(&[]);
    // Read by Content-Length, the body would end after "0\r\n\r" and the
    // rest would be a second request; chunked wins (RFC 9112 6.3), the
    // body is empty, and the connection closes after one answer.
    let smuggled = format!(
        "POST /api/uploads HTTP/1.1\r\nHost: {0}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
         GET /api/config HTTP/1.1\r\nHost: {0}\r\n\r\n",
        s.addr
    );
    let answer = exchange(&s, smuggled.as_bytes());
    assert_eq!(statuses(&answer), [400], "{answer}");
    assert!(
        !answer.contains("maxBytes"),
        "the second request was answered: {answer}"
    );
    // A second, different Content-Length; a coding that is not chunked.
    for fields in [
        "Content-Length: 4\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Content-Length: 99999999999999999999999\r\n",
        "Content-Length: -1\r\n",
    ] {
        let mut request = head(&s, "POST /api/uploads HTTP/1.1", fields);
        request.extend_from_slice(b"abcde");
        let answer = exchange(&s, &request);
        let codes = statuses(&answer);
        assert_eq!(codes.len(), 1, "{fields:?}: {answer}");
        assert!((400..500).contains(&codes[0]), "{fields:?}: {answer}");
    }
    still_serving(&s);
}

#[test]
fn absolute_form_targets_are_checked_as_the_host() {
    let s = TestServer::start(&[]);
    // The same host as Host: served (RFC 9112 requires accepting it).
    let same = exchange(
        &s,
        &head(&s, &format!("GET http://{}/healthz HTTP/1.1", s.addr), ""),
    );
    assert_eq!(statuses(&same), [200], "{same}");
    // Another host than Host: which one to check and sign for is
    // ambiguous, so neither.
    let other = exchange(
        &s,
        &head(&s, "GET http://evil.example/api/config HTTP/1.1", ""),
    );
    assert_eq!(statuses(&other), [400], "{other}");
    assert!(
        other.contains("request target names another host"),
        "{other}"
    );
    // A foreign host in both is refused on loopback (DNS rebinding).
    let foreign = exchange(
        &s,
        b"GET http://evil.example/api/config HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(statuses(&foreign), [421], "{foreign}");
    // HTTP/1.0 without Host: the target's host is checked.
    let old = exchange(&s, b"GET http://evil.example/api/config HTTP/1.0\r\n\r\n");
    assert!(old.starts_with("HTTP/1.0 421"), "{old}");
    // A proxy's CONNECT is not something this server does.
    let connect = exchange(
        &s,
        b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n",
    );
    let codes = statuses(&connect);
    assert!(
        codes.len() == 1 && (400..500).contains(&codes[0]),
        "{connect}"
    );
    still_serving(&s);
}

#[test]
fn pipelined_requests_are_answered_in_order_until_a_broken_one() {
    let s = TestServer::start(&[]);
    let host = s.addr;
    let three = format!(
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /api/config HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /nothing HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let answer = exchange(&s, three.as_bytes());
    assert_eq!(statuses(&answer), [200, 200, 404], "{answer}");
    let config = answer.find("maxBytes").unwrap();
    assert!(
        answer.find("ok").unwrap() < config,
        "out of order: {answer}"
    );
    // A header line without a colon in the middle: the requests before it
    // are answered, then 400 and the connection closes.
    let broken = format!(
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /healthz HTTP/1.1\r\nHost {host}\r\n\r\n\
         GET /api/config HTTP/1.1\r\nHost: {host}\r\n\r\n"
    );
    let answer = exchange(&s, broken.as_bytes());
    assert_eq!(statuses(&answer), [200, 400], "{answer}");
    // Many small pipelined requests in one write.
    let many: String = (0..200)
        .map(|_| format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"))
        .chain([format!(
            "GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )])
        .collect();
    let answer = exchange(&s, many.as_bytes());
    assert_eq!(statuses(&answer), vec![200; 201]);
    still_serving(&s);
}

#[test]
fn broken_request_lines_and_fields_are_400_or_closed() {
    let s = TestServer::start(&[]);
    let host = s.addr;
    for raw in [
        format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-A: a\r\n folded\r\n\r\n"),
        format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-A: a\0b\r\n\r\n"),
        format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX A: b\r\n\r\n"),
        format!("G(T /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        format!("GET /heal thz HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        format!("GET /healthz HTTP/9.9\r\nHost: {host}\r\n\r\n"),
    ] {
        let answer = exchange(&s, raw.as_bytes());
        let codes = statuses(&answer);
        assert!(
            codes.len() == 1 && (400..500).contains(&codes[0]),
            "{raw:?}: {answer:?}"
        );
    }
    // An HTTP/2 preface to an HTTP/1.1 server: closed without an answer
    // (hyper's choice; HTTP/2 clients then know to fall back).
    let answer = exchange(&s, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert!(
        statuses(&answer).iter().all(|c| (400..500).contains(c)),
        "{answer}"
    );
    still_serving(&s);
}

#[test]
fn empty_lines_instead_of_a_request_are_let_go_at_the_header_timeout() {
    let s = TestServer::start(&[("HEADER_READ_TIMEOUT_SECONDS", "1")]);
    // RFC 9112 2.2: empty lines before a request line are skipped, so
    // there is nothing to answer; the head never comes and the header
    // timeout ends the connection.
    let started = std::time::Instant::now();
    let answer = exchange(&s, "\r\n".repeat(1000).as_bytes());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "held {:?}",
        started.elapsed()
    );
    assert!(
        statuses(&answer).iter().all(|c| (400..500).contains(c)),
        "{answer}"
    );
    still_serving(&s);
}

//! A minimal blocking HTTP/1.1 client on `std::net`, for the tests that talk
//! to a real S3 server (tests/seaweedfs.rs). One request per connection,
//! `Connection: close`, bounded by timeouts; the request target is sent
//! exactly as it appears in the URL, so percent-encoding is never touched.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[path = "url.rs"]
pub mod url;

/// How long any single connect, read or write may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Refuse to buffer more than this from one response.
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names as received, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `<Code>` of an S3 XML error body.
    pub fn s3_code(&self) -> Option<String> {
        xml_element(&self.body, "Code")
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The text of the first `<name>…</name>` in `body`.
pub fn xml_element(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].to_owned())
}

/// Sends `method url` to the server at `connect` (`127.0.0.1:8333`) with
/// `Host` taken from the URL's authority, the given headers, and `body`.
/// `Content-Length` is added for a non-empty body or a PUT/POST unless a
/// header of that name is given.
pub fn send(
    connect: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let (authority, target) = url::target(url);
    send_raw(connect, method, authority, target, headers, body)
}

/// As [`send`], with the `Host` header and request target given apart.
pub fn send_raw(
    connect: &str,
    method: &str,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let addr = connect
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;

    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let has_length = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if !has_length && (!body.is_empty() || matches!(method, "PUT" | "POST")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    match stream.write_all(body).and_then(|()| stream.flush()) {
        // The server answered (and closed) before taking the whole body,
        // as S3 does with a refusal: its answer is still to be read.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) => {}
        written => written?,
    }

    let mut raw = Vec::new();
    stream.take(MAX_RESPONSE).read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn parse_response(raw: &[u8], head_only: bool) -> io::Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad(format!("no end of headers in {} bytes", raw.len())))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("non-UTF-8 header block"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &raw[end + 4..];
    if head_only || status == 204 || status == 304 {
        return Ok(response);
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    response.body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad Content-Length"))?;
        rest.get(..len)
            .ok_or_else(|| bad(format!("body shorter than Content-Length {len}")))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(response)
}

fn dechunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("truncated chunk size"))?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| bad("chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad(format!("bad chunk size {size_text:?}")))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or_else(|| bad("truncated chunk"))?;
        body.extend_from_slice(chunk);
        rest = rest
            .get(size + 2..)
            .ok_or_else(|| bad("truncated chunk end"))?;
    }
}

/// Everything the server sends on `stream` until it closes. Fails the test
/// if the stream's read timeout passes first: the server kept the
/// connection open.
pub fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        assert_ne!(
            e.kind(),
            io::ErrorKind::WouldBlock,
            "the server kept the connection open"
        );
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Connects to `addr` and sends the head of a PNG upload to the presigned
/// `url` (signed with `If-None-Match: *`) declaring `length` bytes; the test
/// then writes as much of the body as it wants, or cuts the connection.
pub fn start_put(addr: std::net::SocketAddr, url: &str, length: usize) -> std::net::TcpStream {
    use std::io::Write;
    let (authority, target) = url::target(url);
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "PUT {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: image/png\r\n\
         If-None-Match: *\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream
}

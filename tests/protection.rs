//! What an attacker or a careless client does to a running server, over
//! raw sockets: bodies that never end, responses never read, one address
//! taking every connection, token guessing, other origins, other host
//! names, keys that cannot be files. Every wait is bounded.
#![cfg(feature = "server")]

#[path = "common/binary.rs"]
mod binary;
#[path = "common/http.rs"]
mod http;
#[path = "common/requests.rs"]
mod requests;
#[path = "common/server.rs"]
mod server;

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{Credentials, Signer};
use server::TestServer;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(15);
const FORM: &str = "filename=a.png&type=image%2Fpng&size=10";

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream
}

fn status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

/// A CORS preflight of `method path` from `origin`, asking to send
/// `request_headers`.
fn cors_preflight(
    s: &TestServer,
    path: &str,
    origin: &str,
    method: &str,
    request_headers: &str,
) -> http::Response {
    requests::request(
        s,
        "OPTIONS",
        path,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", request_headers),
        ],
        b"",
    )
}

fn presign(s: &TestServer, method: &str, key: &str, headers: &[(&str, &str)]) -> String {
    let signer = Signer::new(
        Credentials::new(server::KEY_ID, server::SECRET),
        "us-east-1",
        "s3",
    );
    let endpoint = Endpoint::parse(&format!("{}/s3", s.origin())).unwrap();
    let bucket = Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).unwrap();
    let request = ObjectRequest {
        headers,
        ..ObjectRequest::new(method, key)
    };
    bucket
        .presign(&signer, &request, time::OffsetDateTime::now_utc(), 300)
        .unwrap()
        .url
}

/// A presigned PUT of `key` with a `len`-byte PNG body, sent whole.
fn put(s: &TestServer, key: &str, body: &[u8]) -> http::Response {
    let length = body.len().to_string();
    let url = presign(
        s,
        "PUT",
        key,
        &[("content-type", "image/png"), ("content-length", &length)],
    );
    requests::send(s, "PUT", &url, &[("Content-Type", "image/png")], body)
}

#[test]
fn an_api_body_that_never_comes_is_cut_after_the_body_timeout() {
    let s = TestServer::start(&[("BODY_READ_TIMEOUT_SECONDS", "1")]);
    let mut stream = connect(s.addr);
    write!(
        stream,
        "POST /api/uploads HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 100\r\n\r\nfilename=a",
        s.addr
    )
    .unwrap();
    let started = Instant::now();
    let response = http::read_until_closed(&mut stream);
    assert_eq!(status(&response), 408, "{response}");
    assert!(response.contains("body_timeout"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_body_at_one_byte_a_second_is_cut_by_the_minimum_rate() {
    let s = TestServer::start(&[
        ("BODY_READ_TIMEOUT_SECONDS", "1"),
        ("BODY_MIN_BYTES_PER_SECOND", "100"),
    ]);
    let url = presign(
        &s,
        "PUT",
        "slow.png",
        &[("content-type", "image/png"), ("content-length", "1000")],
    );
    let mut stream = http::start_put(s.addr, &url, 1000);
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    let started = Instant::now();
    // Never pauses as long as the idle timeout, but is far below the rate.
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(8) {
        if stream.write_all(b"x").is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(200));
        if sent > 10 {
            break;
        }
    }
    let response = http::read_until_closed(&mut stream);
    assert_eq!(status(&response), 400, "{response}");
    assert!(
        response.contains("<Code>RequestTimeout</Code>"),
        "{response}"
    );
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(s.files(), Vec::<String>::new(), "no partial file is left");
}

#[test]
fn a_response_nobody_reads_is_dropped_after_the_write_timeout() {
    let s = TestServer::start(&[("WRITE_TIMEOUT_SECONDS", "1")]);
    let size: u64 = 256 * 1024 * 1024;
    // Sparse: the object reads as zeros without taking the disk.
    std::fs::create_dir_all(&s.dir).unwrap();
    std::fs::File::create(s.dir.join("big.bin"))
        .unwrap()
        .set_len(size)
        .unwrap();
    let url = presign(&s, "GET", "big.bin", &[]);
    let (_, target) = http::url::target(&url);
    let mut stream = connect(s.addr);
    write!(stream, "GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).unwrap();
    // Read nothing while kernel buffers fill and the timeout runs out.
    std::thread::sleep(Duration::from_secs(4));
    let mut received: u64 = 0;
    let mut buf = vec![0; 1 << 20];
    let started = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n as u64,
        }
        assert!(started.elapsed() < LIMIT, "the server kept writing");
    }
    assert!(received > 0, "the response started");
    assert!(received < size, "the server gave up on the unread response");
}

#[test]
fn a_head_larger_than_the_buffer_is_refused() {
    let s = TestServer::start(&[]);
    let mut stream = connect(s.addr);
    write!(stream, "GET /healthz HTTP/1.1\r\nHost: {}\r\n", s.addr).unwrap();
    let filler = format!("X-Filler: {}\r\n", "a".repeat(1000));
    for _ in 0..40 {
        if stream.write_all(filler.as_bytes()).is_err() {
            break;
        }
    }
    let response = http::read_until_closed(&mut stream);
    assert_eq!(status(&response), 431, "{response}");
}

#[test]
fn one_address_cannot_take_every_connection() {
    let s = TestServer::start(&[("MAX_CONNECTIONS_PER_IP", "3")]);
    let idle: Vec<TcpStream> = (0..3).map(|_| connect(s.addr)).collect();
    // Let the server accept them before the next one arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut over = connect(s.addr);
    let response = http::read_until_closed(&mut over);
    assert_eq!(status(&response), 503, "{response}");
    assert!(response.contains("too_many_connections"), "{response}");
    // Another address is still served while this one is at its cap.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let other = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let stream = socket.connect(s.addr).await.unwrap();
        stream.into_std().unwrap()
    });
    other.set_nonblocking(false).unwrap();
    other.set_read_timeout(Some(LIMIT)).unwrap();
    let mut other = other;
    write!(
        other,
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    )
    .unwrap();
    assert_eq!(status(&http::read_until_closed(&mut other)), 200);
    // Closed connections give their slots back.
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(requests::get(&s, "/healthz", &[]).status, 200);
}

#[test]
fn wrong_tokens_are_limited_and_the_scheme_is_case_insensitive() {
    let token = "0123456789abcdef0123456789abcdef";
    let s = TestServer::start(&[("API_TOKEN", token), ("RATE_LIMIT_PER_MINUTE", "0")]);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = requests::post_upload_form(
            &s,
            FORM,
            &[("Authorization", &format!("{scheme} {token}"))],
        );
        assert_eq!(r.status, 201, "{scheme}: {}", r.text());
    }
    let shorter = &token[..31];
    for _ in 0..10 {
        let r = requests::post_upload_form(
            &s,
            FORM,
            &[("Authorization", &format!("Bearer {shorter}"))],
        );
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let r = requests::post_upload_form(&s, FORM, &[("Authorization", "Bearer guess")]);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.header("retry-after").is_some());
    // While limited, even the right token waits: guessing cannot go on.
    let r = requests::post_upload_form(&s, FORM, &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!(r.status, 429, "{}", r.text());
}

#[test]
fn listed_origins_get_cors_headers_and_a_preflight_answer() {
    let app = "http://app.example:8080";
    let s = TestServer::start(&[("ALLOWED_ORIGINS", app)]);
    let preflight = |origin: &str, method: &str| {
        cors_preflight(&s, "/api/uploads", origin, method, "authorization")
    };
    let r = preflight(app, "POST");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(app));
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert!(r
        .header("access-control-allow-headers")
        .is_some_and(|h| h.contains("authorization")));
    assert_eq!(r.header("vary"), Some("origin"));
    let r = preflight("https://evil.example", "POST");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("access-control-allow-methods"), None);
    let r = preflight(app, "DELETE");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-methods"), None);
    let r = requests::post_upload_form(&s, FORM, &[("Origin", app)]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(app));
    assert_eq!(r.header("vary"), Some("origin"));
    let r = requests::post_upload_form(&s, FORM, &[("Origin", "https://evil.example")]);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let own = s.origin();
    let r = requests::post_upload_form(&s, FORM, &[("Origin", own.as_str())]);
    assert_eq!(r.status, 201);
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert_eq!(r.header("vary"), Some("origin"));
}

#[test]
fn listed_origins_may_upload_to_the_local_bucket_from_a_browser() {
    let app = "http://app.example:8080";
    let s = TestServer::start(&[("ALLOWED_ORIGINS", app)]);
    let object = "/s3/local/uploads/x.png";
    let preflight = |origin: &str, method: &str| {
        cors_preflight(&s, object, origin, method, "content-type,if-none-match")
    };
    let r = preflight(app, "PUT");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(app));
    assert!(r
        .header("access-control-allow-methods")
        .is_some_and(|m| m.split(", ").any(|m| m == "PUT")));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type, if-none-match")
    );
    assert_eq!(r.header("vary"), Some("origin"));
    let r = preflight("https://evil.example", "PUT");
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
    // Multipart needs POST (create, complete) and DELETE (abort).
    for method in ["POST", "DELETE"] {
        assert_eq!(preflight(app, method).status, 204, "{method}");
    }
    let r = preflight(app, "PATCH");
    assert_eq!(r.status, 403);
    // The bucket's own answers carry the origin and expose the ETag.
    let r = requests::get(&s, object, &[("Origin", app)]);
    assert_eq!(r.status, 400, "unsigned: {}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(app));
    assert_eq!(r.header("access-control-expose-headers"), Some("etag"));
    let r = requests::get(&s, object, &[("Origin", "https://evil.example")]);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn on_loopback_only_loopback_host_names_are_answered() {
    let s = TestServer::start(&[]);
    let addr = s.addr.to_string();
    let port = s.addr.port();
    let post_as = |host: &str| {
        http::send_raw(
            &addr,
            "POST",
            host,
            "/api/uploads",
            &[
                ("Origin", &format!("http://{host}")),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            FORM.as_bytes(),
        )
        .unwrap()
    };
    let r = post_as(&format!("evil.example:{port}"));
    assert_eq!(r.status, 421, "{}", r.text());
    assert!(r.text().contains("host_not_allowed"));
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(post_as(&host).status, 201, "{host}");
    }
    let s = TestServer::start(&[("ALLOWED_HOSTS", "evil.example")]);
    let r = http::send_raw(
        &s.addr.to_string(),
        "GET",
        "evil.example",
        "/healthz",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn a_malformed_chunked_api_body_is_400() {
    let s = TestServer::start(&[]);
    let mut stream = connect(s.addr);
    write!(
        stream,
        "POST /api/uploads HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nfilename=a\r\n0\r\n\r\n",
        s.addr
    )
    .unwrap();
    let response = http::read_until_closed(&mut stream);
    assert_eq!(status(&response), 400, "{response}");
    assert!(response.contains("malformed"), "{response}");
}

#[test]
fn keys_that_cannot_be_files_are_refused_with_4xx() {
    let s = TestServer::start(&[]);
    assert_eq!(put(&s, "a", b"one").status, 200);
    let r = put(&s, "a/b", b"two");
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some("KeyConflict"));
    assert_eq!(put(&s, "c/d", b"three").status, 200);
    let r = put(&s, "c", b"four");
    assert_eq!(r.status, 409, "{}", r.text());
    // Signed with If-None-Match: *, as the API signs: still a conflict,
    // not "an object exists".
    let url = presign(
        &s,
        "PUT",
        "c",
        &[
            ("content-type", "image/png"),
            ("content-length", "4"),
            ("if-none-match", "*"),
        ],
    );
    let r = requests::send(
        &s,
        "PUT",
        &url,
        &[("Content-Type", "image/png"), ("If-None-Match", "*")],
        b"five",
    );
    assert_eq!(r.status, 409, "{}", r.text());
    let long = format!("x/{}", "y".repeat(300));
    let r = put(&s, &long, b"five");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some("InvalidArgument"));
    assert_eq!(s.files(), ["a", "c/d"]);
}

#[test]
fn temporary_files_of_a_killed_run_are_swept_at_start() {
    let s = TestServer::start(&[]);
    let dir = s.dir.clone();
    // Wait for the server to have prepared its directory.
    assert_eq!(requests::get(&s, "/healthz", &[]).status, 200);
    s.stop().unwrap();
    let leftover = dir.join(".presign-tmp").join("half-an-upload");
    std::fs::write(&leftover, b"partial").unwrap();
    let dir_text = dir.display().to_string();
    let s = TestServer::start(&[("LOCAL_BUCKET_DIR", &dir_text)]);
    assert_eq!(requests::get(&s, "/healthz", &[]).status, 200);
    assert!(!leftover.exists(), "the leftover temp file is gone");
}

#[test]
fn a_local_bucket_dir_that_cannot_work_stops_the_start_naming_it() {
    let home = server::temp_dir("bad-dir");
    let file = home.join("a-file");
    std::fs::write(&file, b"").unwrap();
    for dir in [file.clone(), file.join("below")] {
        let out = binary::command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("HOME", &home)
            .env("LOCAL_BUCKET_DIR", &dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{dir:?}");
        assert!(!stdout.contains("listening"), "{stdout}");
        assert!(stderr.contains("LOCAL_BUCKET_DIR"), "{stderr}");
        assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    }
}

#[test]
fn explain_never_prints_the_query_of_a_bad_url() {
    let out = binary::command()
        .args([
            "explain",
            "https://b.s3.amazonaws.com/k?X-Amz-Security-Token=secret-token&a=1",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a presigned URL"), "{stderr}");
    assert!(!stderr.contains("secret-token"), "{stderr}");
}

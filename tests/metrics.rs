//! `GET /metrics` over real sockets: off without `METRICS_TOKEN`, a
//! bearer token with it, and counters that match a known sequence of
//! requests exactly.
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/requests.rs"]
mod requests;
#[path = "common/server.rs"]
mod server;

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::server::{Config, Vars};
use presign::sigv4::{Credentials, Signer};
use requests::{get, post_upload_form};
use server::TestServer;
use std::time::{Duration, Instant};

const TOKEN: &str = "metrics-token-0123456789abcdef-0123";

fn put(s: &TestServer, key_id: &str, key: &str, body: &[u8], tamper: bool) -> http::Response {
    let signer = Signer::new(Credentials::new(key_id, server::SECRET), "us-east-1", "s3");
    let endpoint = Endpoint::parse(&format!("{}/s3", s.origin())).unwrap();
    let bucket = Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).unwrap();
    let length = body.len().to_string();
    let headers = [("content-type", "image/png"), ("content-length", &length)];
    let request = ObjectRequest {
        headers: &headers,
        ..ObjectRequest::new("PUT", key)
    };
    let mut url = bucket
        .presign(&signer, &request, time::OffsetDateTime::now_utc(), 300)
        .unwrap()
        .url;
    if tamper {
        // The signature's last hex digit, changed.
        let last = url.pop().unwrap();
        url.push(if last == '0' { '1' } else { '0' });
    }
    requests::send(s, "PUT", &url, &[("Content-Type", "image/png")], body)
}

/// The value of the sample `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn scrape(s: &TestServer) -> String {
    let bearer = format!("Bearer {TOKEN}");
    let response = get(s, "/metrics", &[("Authorization", &bearer)]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    response.text()
}

#[test]
fn without_a_token_there_is_no_metrics_endpoint() {
    let s = TestServer::start(&[]);
    let response = get(
        &s,
        "/metrics",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(response.status, 404, "{}", response.text());
    assert!(response.text().contains("not_found"));
}

#[test]
fn a_short_metrics_token_stops_the_start() {
    let vars = Vars::new(vec![("METRICS_TOKEN".into(), "short".into())], None);
    let error = Config::load(&vars, Some("127.0.0.1:0")).unwrap_err();
    assert!(error.to_string().contains("METRICS_TOKEN"), "{error}");
}

#[test]
fn counters_match_a_known_sequence_of_requests() {
    let s = TestServer::start(&[("METRICS_TOKEN", TOKEN), ("RATE_LIMIT_PER_MINUTE", "4")]);
    // The API: two URLs issued (PUT, POST), then a type and a size refused,
    // then the limiter; an unlisted origin is refused before the limiter.
    let png = "filename=a.png&type=image%2Fpng&size=10";
    assert_eq!(get(&s, "/healthz", &[]).status, 200);
    assert_eq!(get(&s, "/healthz", &[]).status, 200);
    assert_eq!(post_upload_form(&s, png, &[]).status, 201);
    assert_eq!(
        post_upload_form(&s, &format!("{png}&method=post"), &[]).status,
        201
    );
    assert_eq!(
        post_upload_form(&s, "filename=a.svg&type=image%2Fsvg%2Bxml&size=10", &[]).status,
        415
    );
    assert_eq!(
        post_upload_form(&s, "filename=a.png&type=image%2Fpng&size=999999999", &[]).status,
        413
    );
    assert_eq!(post_upload_form(&s, png, &[]).status, 429);
    assert_eq!(
        post_upload_form(&s, png, &[("Origin", "https://evil.example")]).status,
        403
    );
    // The local bucket: one object of 10 bytes stored, two signatures refused.
    assert_eq!(
        put(&s, server::KEY_ID, "m/a.png", b"0123456789", false).status,
        200
    );
    let tampered = put(&s, server::KEY_ID, "m/b.png", b"0123456789", true);
    assert_eq!(tampered.s3_code().as_deref(), Some("SignatureDoesNotMatch"));
    let unknown = put(&s, "SOMEONEELSE", "m/c.png", b"0123456789", false);
    assert_eq!(unknown.s3_code().as_deref(), Some("InvalidAccessKeyId"));
    // The endpoint itself: no token, a wrong one, a foreign Host.
    assert_eq!(get(&s, "/metrics", &[]).status, 401);
    assert_eq!(
        get(&s, "/metrics", &[("Authorization", "Bearer wrong")]).status,
        401
    );
    let foreign = http::send_raw(
        &s.addr.to_string(),
        "GET",
        "evil.example",
        "/metrics",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(foreign.status, 421);

    let text = scrape(&s);
    let expected = [
        (
            "presign_http_requests_total{route=\"/healthz\",status=\"200\"}",
            2,
        ),
        (
            "presign_http_requests_total{route=\"/api/uploads\",status=\"201\"}",
            2,
        ),
        (
            "presign_http_requests_total{route=\"/api/uploads\",status=\"415\"}",
            1,
        ),
        (
            "presign_http_requests_total{route=\"/api/uploads\",status=\"413\"}",
            1,
        ),
        (
            "presign_http_requests_total{route=\"/api/uploads\",status=\"429\"}",
            1,
        ),
        (
            "presign_http_requests_total{route=\"/api/uploads\",status=\"403\"}",
            1,
        ),
        (
            "presign_http_requests_total{route=\"/s3\",status=\"200\"}",
            1,
        ),
        (
            "presign_http_requests_total{route=\"/s3\",status=\"403\"}",
            2,
        ),
        (
            "presign_http_requests_total{route=\"/metrics\",status=\"401\"}",
            2,
        ),
        (
            "presign_http_requests_total{route=\"/metrics\",status=\"421\"}",
            1,
        ),
        ("presign_presigned_urls_total{kind=\"put\"}", 1),
        ("presign_presigned_urls_total{kind=\"post\"}", 1),
        ("presign_presigned_urls_total{kind=\"get\"}", 2),
        ("presign_refusals_total{reason=\"type\"}", 1),
        ("presign_refusals_total{reason=\"size\"}", 1),
        ("presign_refusals_total{reason=\"origin\"}", 1),
        ("presign_refusals_total{reason=\"rate_limit\"}", 1),
        ("presign_refusals_total{reason=\"token\"}", 2),
        ("presign_refusals_total{reason=\"host\"}", 1),
        ("presign_refusals_total{reason=\"connections\"}", 0),
        (
            "presign_signature_failures_total{code=\"SignatureDoesNotMatch\"}",
            1,
        ),
        (
            "presign_signature_failures_total{code=\"InvalidAccessKeyId\"}",
            1,
        ),
        ("presign_signature_failures_total{code=\"AccessDenied\"}", 0),
        ("presign_local_bucket_written_bytes_total", 10),
        ("presign_local_bucket_objects_stored_total", 1),
        ("presign_access_log_dropped_lines_total", 0),
    ];
    for (name, value) in expected {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
    // Each sample has its family's HELP and TYPE lines before it.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let family = line.split(['{', ' ']).next().unwrap();
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} has no TYPE"
        );
    }
    // Earlier connections close; the scrape's own is the one left open.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let open = sample(&scrape(&s), "presign_open_connections").unwrap();
        if open == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "{open} connections still open");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The scrapes are counted as requests too.
    let text = scrape(&s);
    assert!(
        sample(
            &text,
            "presign_http_requests_total{route=\"/metrics\",status=\"200\"}"
        )
        .unwrap()
            >= 2
    );
}

#[test]
fn connections_over_the_per_address_cap_are_counted() {
    let s = TestServer::start(&[("METRICS_TOKEN", TOKEN), ("MAX_CONNECTIONS_PER_IP", "2")]);
    let held: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(s.addr).unwrap())
        .collect();
    // Give the server time to accept both before the third.
    std::thread::sleep(Duration::from_millis(200));
    let mut third = std::net::TcpStream::connect(s.addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut third, &mut answer);
    assert!(answer.contains("503"), "{answer}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    // The held connections must close before a scrape gets a slot: until
    // the server has seen them go, a scrape is refused, and counted too.
    let mut refused_scrapes = 0;
    loop {
        let bearer = format!("Bearer {TOKEN}");
        let scrape = http::send(
            &s.addr.to_string(),
            "GET",
            &format!("{}/metrics", s.origin()),
            &[("Authorization", &bearer)],
            b"",
        );
        match scrape {
            Ok(r) if r.status == 200 => {
                let text = r.text();
                assert_eq!(
                    sample(&text, "presign_refusals_total{reason=\"connections\"}"),
                    Some(1 + refused_scrapes),
                    "{text}"
                );
                break;
            }
            // Over the cap: the 503, or a reset when it could not be written.
            Ok(r) => assert_eq!(r.status, 503, "{}", r.text()),
            Err(_) => {}
        }
        refused_scrapes += 1;
        assert!(Instant::now() < deadline, "no scrape got through");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn batches_and_multipart_steps_count_every_url_they_sign() {
    let s = TestServer::start(&[("METRICS_TOKEN", TOKEN), ("UPLOAD_MAX_BYTES", "104857600")]);
    let send = |path: &str, content_type: &str, body: &str| {
        requests::request(
            &s,
            "POST",
            path,
            &[("Content-Type", content_type)],
            body.as_bytes(),
        )
    };
    // Three files, one refused: two PUT URLs and two view URLs.
    let batch = r#"{"files": [
        {"filename": "a.png", "type": "image/png", "size": 10},
        {"filename": "b.svg", "type": "image/svg+xml", "size": 10},
        {"filename": "c.jpg", "type": "image/jpeg", "size": 10}]}"#;
    assert_eq!(
        send("/api/uploads/batch", "application/json", batch).status,
        201
    );
    // A 20 MiB multipart upload: its create (and a view URL), then three part URLs.
    let form = "application/x-www-form-urlencoded";
    let created = send(
        "/api/multipart",
        form,
        "filename=big.png&type=image%2Fpng&size=20971520",
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let created: serde_json::Value = serde_json::from_slice(&created.body).unwrap();
    let fields = format!(
        "key={}&ticket={}&uploadId=x&parts=1%2C2%2C3",
        created["key"].as_str().unwrap().replace('/', "%2F"),
        created["ticket"].as_str().unwrap()
    );
    let parts = send("/api/multipart/parts", form, &fields);
    assert_eq!(parts.status, 200, "{}", parts.text());

    let text = scrape(&s);
    for (name, value) in [
        ("presign_presigned_urls_total{kind=\"put\"}", 2),
        ("presign_presigned_urls_total{kind=\"get\"}", 3),
        ("presign_presigned_urls_total{kind=\"multipart\"}", 4),
        (
            "presign_http_requests_total{route=\"/api/uploads/batch\",status=\"201\"}",
            1,
        ),
        (
            "presign_http_requests_total{route=\"/api/multipart\",status=\"201\"}",
            1,
        ),
        (
            "presign_http_requests_total{route=\"/api/multipart\",status=\"200\"}",
            1,
        ),
    ] {
        assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
    }
}

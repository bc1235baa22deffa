//! The upload API over real TCP: `GET /api/config`, `POST /api/uploads`,
//! the page, and every error the API can answer.
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/requests.rs"]
mod requests;
#[path = "common/server.rs"]
mod server;

use requests::{get, post_upload_form};
use serde_json::Value;
use server::TestServer;

fn json(r: &http::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// Asserts a JSON error with `status` and `code`, and returns its message.
fn assert_error(r: &http::Response, status: u16, code: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = json(r);
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    message
}

#[test]
fn config_describes_the_policy() {
    let s = TestServer::start(&[
        ("UPLOAD_MAX_BYTES", "1234"),
        ("UPLOAD_EXPIRES_SECONDS", "60"),
    ]);
    let r = get(&s, "/api/config", &[]);
    assert_eq!(r.status, 200);
    let body = json(&r);
    assert_eq!(body["maxBytes"], 1234);
    assert_eq!(body["expiresSeconds"], 60);
    assert_eq!(
        body["allowedTypes"],
        serde_json::json!([
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp",
            "image/avif"
        ])
    );
    assert_eq!(
        body["resize"],
        serde_json::Value::Null,
        "resizing is opt-in"
    );
}

#[test]
fn config_announces_resizing_and_heic_when_configured() {
    let s = TestServer::start(&[
        ("UPLOAD_RESIZE_MAX_PIXELS", "12000000"),
        ("UPLOAD_RESIZE_QUALITY", "80"),
        ("UPLOAD_ALLOWED_TYPES", "image/jpeg,image/heic,image/heif"),
    ]);
    let body = json(&get(&s, "/api/config", &[]));
    assert_eq!(
        body["resize"],
        serde_json::json!({"maxPixels": 12_000_000, "quality": 0.8})
    );
    assert_eq!(
        body["allowedTypes"],
        serde_json::json!(["image/jpeg", "image/heic", "image/heif"])
    );
    // A HEIC upload gets a .heic key.
    let r = post_upload_form(&s, "filename=IMG_0001.HEIC&type=image%2Fheic&size=10", &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(json(&r)["key"].as_str().unwrap().ends_with(".heic"));
}

#[test]
fn upload_then_read_back_through_view_url() {
    let s = TestServer::start(&[]);
    let image: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let size = image.len().to_string();
    let r = post_upload_form(
        &s,
        &format!("filename=holiday+photo.png&type=image%2Fpng&size={size}"),
        &[("Origin", &s.origin())],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = json(&r);
    let key = body["key"].as_str().unwrap();
    assert!(
        key.starts_with("uploads/") && key.ends_with(".png"),
        "{key}"
    );
    assert!(
        !key.contains("holiday"),
        "the key must not come from the file name"
    );
    assert_eq!(body["method"], "PUT");
    assert_eq!(
        body["headers"],
        serde_json::json!({"content-type": "image/png", "if-none-match": "*"})
    );
    assert!(body["expiresAt"].as_str().unwrap().ends_with('Z'));
    let url = body["url"].as_str().unwrap();
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match")
    );

    let put = requests::send(
        &s,
        "PUT",
        url,
        &[("Content-Type", "image/png"), ("If-None-Match", "*")],
        &image,
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert!(put.header("etag").is_some());
    assert_eq!(std::fs::read(s.dir.join(key)).unwrap(), image);

    let view = requests::send(&s, "GET", body["viewUrl"].as_str().unwrap(), &[], b"");
    assert_eq!(view.status, 200, "{}", view.text());
    assert_eq!(view.body, image);
    assert_eq!(view.header("content-type"), Some("image/png"));
    assert!(view
        .header("content-security-policy")
        .unwrap()
        .contains("sandbox"));
    assert_eq!(s.files(), vec![key.to_owned()]);
}

#[test]
fn malformed_and_missing_fields_are_400() {
    let s = TestServer::start(&[]);
    for (form, needle) in [
        ("type=image%2Fpng&size=10", "filename"),
        ("filename=a.png&size=10", "type"),
        ("filename=a.png&type=image%2Fpng", "size"),
        ("filename=a.png&type=image%2Fpng&size=ten", "size"),
        ("filename=a.png&type=image%2Fpng&size=-1", "size"),
        ("filename=a.png&type=png&size=10", "type"),
        ("filename=a.png&type=image%2Fpng&size=0", "empty"),
        ("filename=a&filename=b&type=image%2Fpng&size=1", "filename"),
        ("filename=%FF&type=image%2Fpng&size=1", "UTF-8"),
    ] {
        let message = assert_error(&post_upload_form(&s, form, &[]), 400, "bad_request");
        assert!(message.contains(needle), "{form}: {message}");
    }
    let r = requests::request(
        &s,
        "POST",
        "/api/uploads",
        &[("Content-Type", "application/json")],
        b"{}",
    );
    assert_error(&r, 415, "unsupported_body");
}

#[test]
fn policy_refusals_have_their_own_status() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "1000")]);
    let message = assert_error(
        &post_upload_form(&s, "filename=x.svg&type=image%2Fsvg%2Bxml&size=10", &[]),
        415,
        "type_not_allowed",
    );
    assert!(message.contains("image/svg+xml"), "{message}");
    assert_error(
        &post_upload_form(&s, "filename=x.html&type=text%2Fhtml&size=10", &[]),
        415,
        "type_not_allowed",
    );
    let message = assert_error(
        &post_upload_form(&s, "filename=x.png&type=image%2Fpng&size=1001", &[]),
        413,
        "too_large",
    );
    assert!(message.contains("1000"), "{message}");
    assert_eq!(
        post_upload_form(&s, "filename=x.png&type=IMAGE%2FPNG&size=1000", &[]).status,
        201
    );
    let huge = format!("filename={}&type=image%2Fpng&size=1", "a".repeat(5000));
    assert_error(&post_upload_form(&s, &huge, &[]), 413, "form_too_large");
}

#[test]
fn wrong_method_and_unknown_path() {
    let s = TestServer::start(&[]);
    let r = get(&s, "/api/uploads", &[]);
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = post_upload_form(&s, "", &[]);
    assert_ne!(r.status, 405);
    assert_error(&get(&s, "/nope", &[]), 404, "not_found");
    let r = requests::request(&s, "DELETE", "/api/config", &[], b"");
    assert_error(&r, 405, "method_not_allowed");
}

#[test]
fn cross_site_requests_are_refused() {
    let s = TestServer::start(&[("ALLOWED_ORIGINS", "https://app.example")]);
    let form = "filename=a.png&type=image%2Fpng&size=10";
    assert_error(
        &post_upload_form(&s, form, &[("Origin", "https://evil.example")]),
        403,
        "origin_not_allowed",
    );
    assert_error(
        &post_upload_form(&s, form, &[("Origin", "null")]),
        403,
        "origin_not_allowed",
    );
    assert_eq!(
        post_upload_form(&s, form, &[("Origin", "https://app.example")]).status,
        201
    );
    assert_eq!(
        post_upload_form(&s, form, &[("Origin", &s.origin())]).status,
        201
    );
}

#[test]
fn api_token_is_required_when_configured() {
    let token = "t0ken-0123456789abcdef0123456789abcdef";
    let s = TestServer::start(&[("API_TOKEN", token)]);
    let form = "filename=a.png&type=image%2Fpng&size=10";
    let r = post_upload_form(&s, form, &[]);
    assert_error(&r, 401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_error(
        &post_upload_form(&s, form, &[("Authorization", "Bearer wrong")]),
        401,
        "unauthorized",
    );
    assert_eq!(
        post_upload_form(&s, form, &[("Authorization", &format!("Bearer {token}"))]).status,
        201
    );
}

#[test]
fn a_burst_over_the_rate_limit_gets_429_with_retry_after() {
    let s = TestServer::start(&[("RATE_LIMIT_PER_MINUTE", "5")]);
    let form = "filename=a.png&type=image%2Fpng&size=10";
    let statuses: Vec<u16> = (0..8)
        .map(|_| post_upload_form(&s, form, &[]).status)
        .collect();
    assert_eq!(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
    let r = post_upload_form(&s, form, &[]);
    assert_error(&r, 429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    // The limit covers uploads only.
    assert_eq!(get(&s, "/api/config", &[]).status, 200);
}

#[test]
fn the_page_is_served_with_security_headers_and_etag() {
    let s = TestServer::start(&[]);
    let r = get(&s, "/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let csp = r.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(
        r.body,
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/index.html")).unwrap()
    );
    let etag = r.header("etag").unwrap().to_owned();
    let again = get(&s, "/", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    let page_only = get(&s, "/style.css", &[]);
    assert_eq!(page_only.status, 200);
    assert!(page_only
        .header("content-type")
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(page_only.header("access-control-allow-origin"), None);
    // The element other sites embed: loadable from any origin, revalidated by ETag.
    for (path, kind, file) in [
        ("/uploader.js", "text/javascript", "uploader.js"),
        ("/uploader-v1.js", "text/javascript", "uploader.js"),
        ("/uploader.css", "text/css", "uploader.css"),
        ("/api.js", "text/javascript", "api.js"),
        ("/batch.js", "text/javascript", "batch.js"),
        ("/multipart.js", "text/javascript", "multipart.js"),
        ("/resume.js", "text/javascript", "resume.js"),
        ("/s3-xml.js", "text/javascript", "s3-xml.js"),
        ("/prepare.js", "text/javascript", "prepare.js"),
        ("/sniff.js", "text/javascript", "sniff.js"),
        ("/resize.js", "text/javascript", "resize.js"),
    ] {
        let r = get(&s, path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        let on_disk = std::fs::read(format!("{}/static/{file}", env!("CARGO_MANIFEST_DIR")));
        assert_eq!(r.body, on_disk.unwrap(), "{path}");
        let etag = r.header("etag").unwrap().to_owned();
        assert_eq!(
            get(&s, path, &[("If-None-Match", &etag)]).status,
            304,
            "{path}"
        );
    }
    assert_eq!(get(&s, "/app.js", &[]).status, 404);
    assert_eq!(get(&s, "/healthz", &[]).text(), "ok");
}

#[test]
fn the_csp_names_a_real_buckets_origin() {
    let s = TestServer::start(&[
        ("S3_BUCKET_NAME", "photos"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_REGION", "eu-west-1"),
    ]);
    let csp = get(&s, "/", &[])
        .header("content-security-policy")
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("connect-src 'self' https://photos.s3.eu-west-1.amazonaws.com"),
        "{csp}"
    );
    let r = post_upload_form(&s, "filename=a.png&type=image%2Fpng&size=10", &[]);
    let url = json(&r)["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("https://photos.s3.eu-west-1.amazonaws.com/uploads/"),
        "{url}"
    );
}

#[test]
fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use std::io::{Read, Write};
    let s = TestServer::start(&[("HEADER_READ_TIMEOUT_SECONDS", "1")]);
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = Vec::new();
    // Ends (EOF or reset) once the server gives up; a read timeout would
    // mean the server kept waiting for ever.
    let result = stream.read_to_end(&mut buf);
    match result {
        Ok(_) => {}
        Err(e) => assert_ne!(
            e.kind(),
            std::io::ErrorKind::WouldBlock,
            "server never closed the connection"
        ),
    }
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
}

#[test]
fn shutdown_lets_an_in_flight_upload_finish() {
    use std::io::{Read, Write};
    let s = TestServer::start(&[]);
    let r = post_upload_form(&s, "filename=a.png&type=image%2Fpng&size=8", &[]);
    let body = json(&r);
    let mut stream = http::start_put(s.addr, body["url"].as_str().unwrap(), 8);
    stream.write_all(b"half").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let key = body["key"].as_str().unwrap().to_owned();
    let dir = s.dir.clone();
    let stopper = std::thread::spawn(move || s.stop());
    std::thread::sleep(std::time::Duration::from_millis(200));
    stream.write_all(b"done").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    stopper.join().unwrap().unwrap();
    assert_eq!(std::fs::read(dir.join(key)).unwrap(), b"halfdone");
}

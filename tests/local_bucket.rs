//! The embedded local bucket over real TCP: what S3 would refuse, it
//! refuses with S3's codes, and no refusal leaves a file behind.
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/server.rs"]
mod server;

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{Credentials, Signer};
use server::TestServer;
use time::{Duration, OffsetDateTime};

fn signer(secret: &str) -> Signer {
    Signer::new(Credentials::new(server::KEY_ID, secret), "us-east-1", "s3")
}

fn bucket(s: &TestServer) -> Bucket {
    let endpoint = Endpoint::parse(&format!("{}/s3", s.origin())).unwrap();
    Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).unwrap()
}

/// A presigned PUT of `key` for `body`, signed like the API signs.
fn presign_put(s: &TestServer, key: &str, len: usize, at: OffsetDateTime, secret: &str) -> String {
    let length = len.to_string();
    let headers = [
        ("content-type", "image/png"),
        ("content-length", length.as_str()),
        ("if-none-match", "*"),
    ];
    let request = ObjectRequest {
        headers: &headers,
        ..ObjectRequest::new("PUT", key)
    };
    bucket(s)
        .presign(&signer(secret), &request, at, 300)
        .unwrap()
        .url
}

fn put(s: &TestServer, url: &str, content_type: &str, body: &[u8]) -> http::Response {
    http::send(
        &s.addr.to_string(),
        "PUT",
        url,
        &[("Content-Type", content_type), ("If-None-Match", "*")],
        body,
    )
    .unwrap()
}

fn assert_s3_error(r: &http::Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some(code), "{}", r.text());
}

const BODY: &[u8] = b"\x89PNG\r\n\x1a\nnot really a png";

#[test]
fn refusals_use_s3_codes_and_store_nothing() {
    let s = TestServer::start(&[]);
    let now = OffsetDateTime::now_utc();
    let url = presign_put(&s, "a.png", BODY.len(), now, server::SECRET);

    let tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    let r = put(&s, &tampered, "image/png", BODY);
    assert_s3_error(&r, 403, "SignatureDoesNotMatch");
    // Like S3, the answer shows what the server signed, to compare.
    let canonical = http::xml_element(&r.body, "CanonicalRequest").unwrap();
    assert!(
        canonical.starts_with("PUT\n/s3/local/a.png\n"),
        "{canonical}"
    );
    let string_to_sign = http::xml_element(&r.body, "StringToSign").unwrap();
    assert!(string_to_sign.starts_with("AWS4-HMAC-SHA256\n"));
    let other_key = url.replace("/a.png?", "/b.png?");
    assert_s3_error(
        &put(&s, &other_key, "image/png", BODY),
        403,
        "SignatureDoesNotMatch",
    );
    let longer_expiry = url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000");
    assert_s3_error(
        &put(&s, &longer_expiry, "image/png", BODY),
        403,
        "SignatureDoesNotMatch",
    );
    assert_s3_error(
        &put(&s, &url, "image/jpeg", BODY),
        403,
        "SignatureDoesNotMatch",
    );
    let longer = [BODY, b"!"].concat();
    assert_s3_error(
        &put(&s, &url, "image/png", &longer),
        403,
        "SignatureDoesNotMatch",
    );
    assert_s3_error(
        &put(&s, &url, "image/png", &BODY[1..]),
        403,
        "SignatureDoesNotMatch",
    );

    let wrong_secret = presign_put(&s, "a.png", BODY.len(), now, "not-the-secret");
    assert_s3_error(
        &put(&s, &wrong_secret, "image/png", BODY),
        403,
        "SignatureDoesNotMatch",
    );
    let expired = presign_put(
        &s,
        "a.png",
        BODY.len(),
        now - Duration::seconds(301),
        server::SECRET,
    );
    let r = put(&s, &expired, "image/png", BODY);
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(r.text().contains("Request has expired"));
    let future = presign_put(
        &s,
        "a.png",
        BODY.len(),
        now + Duration::minutes(20),
        server::SECRET,
    );
    assert_s3_error(&put(&s, &future, "image/png", BODY), 403, "AccessDenied");
    let unknown = url.replace(server::KEY_ID, "SOMEONEELSE");
    assert_s3_error(
        &put(&s, &unknown, "image/png", BODY),
        403,
        "InvalidAccessKeyId",
    );
    let unsigned = url.split('?').next().unwrap();
    assert_s3_error(
        &put(&s, unsigned, "image/png", BODY),
        400,
        "AuthorizationQueryParametersError",
    );

    assert!(s.files().is_empty(), "{:?}", s.files());
    assert_eq!(put(&s, &url, "image/png", BODY).status, 200);
    assert_eq!(s.files(), ["a.png"]);
}

#[test]
fn replay_onto_an_existing_key_is_412_and_keeps_the_first_object() {
    let s = TestServer::start(&[]);
    let url = presign_put(
        &s,
        "once.png",
        BODY.len(),
        OffsetDateTime::now_utc(),
        server::SECRET,
    );
    assert_eq!(put(&s, &url, "image/png", BODY).status, 200);
    let other = b"\x89PNG\r\n\x1a\nsomething else!!";
    assert_eq!(other.len(), BODY.len());
    assert_s3_error(
        &put(&s, &url, "image/png", other),
        412,
        "PreconditionFailed",
    );
    assert_eq!(std::fs::read(s.dir.join("once.png")).unwrap(), BODY);
    assert_eq!(s.files(), ["once.png"]);
}

#[test]
fn oversized_bodies_are_refused_before_reading() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "16")]);
    let big = vec![7u8; 17];
    let url = presign_put(
        &s,
        "big.png",
        big.len(),
        OffsetDateTime::now_utc(),
        server::SECRET,
    );
    assert_s3_error(&put(&s, &url, "image/png", &big), 400, "EntityTooLarge");
    assert!(s.files().is_empty(), "{:?}", s.files());
}

#[test]
fn keys_that_would_escape_the_directory_are_refused() {
    let s = TestServer::start(&[]);
    let now = OffsetDateTime::now_utc();
    for key in [
        "../escape.png",
        "a/../../escape.png",
        "a//b.png",
        ".presign-tmp/x.png",
        "a\\..\\b.png",
    ] {
        let url = presign_put(&s, key, BODY.len(), now, server::SECRET);
        assert_s3_error(&put(&s, &url, "image/png", BODY), 400, "InvalidArgument");
    }
    // The same with the dots percent-encoded on the wire.
    let url = presign_put(&s, "x/../escape.png", BODY.len(), now, server::SECRET)
        .replace("/x/../", "/x/%2E%2E/");
    assert_s3_error(&put(&s, &url, "image/png", BODY), 400, "InvalidArgument");
    assert!(s.files().is_empty(), "{:?}", s.files());
    assert!(!s.dir.parent().unwrap().join("escape.png").exists());
}

#[test]
fn a_cut_connection_leaves_no_partial_object() {
    use std::io::{Read, Write};
    let s = TestServer::start(&[]);
    let url = presign_put(
        &s,
        "cut.png",
        100_000,
        OffsetDateTime::now_utc(),
        server::SECRET,
    );
    let mut stream = http::start_put(s.addr, &url, 100_000);
    stream.write_all(&[1u8; 40_000]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    drop(stream);
    // The server notices the cut and removes the temporary file; poll for
    // that, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !s.files().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(s.files().is_empty(), "{:?}", s.files());

    // And a body that ends early on a live connection is IncompleteBody.
    let mut stream = http::start_put(s.addr, &url, 100_000);
    stream.write_all(&[1u8; 10]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(
        response.is_empty() || response.contains("IncompleteBody"),
        "{response}"
    );
    assert!(s.files().is_empty(), "{:?}", s.files());
}

#[test]
fn get_head_and_missing_objects() {
    let s = TestServer::start(&[]);
    let now = OffsetDateTime::now_utc();
    let url = presign_put(&s, "photos/cat.png", BODY.len(), now, server::SECRET);
    assert_eq!(put(&s, &url, "image/png", BODY).status, 200);
    let get = |key: &str, method: &str| {
        let request = ObjectRequest::new(method, key);
        let url = bucket(&s)
            .presign(&signer(server::SECRET), &request, now, 60)
            .unwrap()
            .url;
        http::send(&s.addr.to_string(), method, &url, &[], b"").unwrap()
    };
    let r = get("photos/cat.png", "GET");
    assert_eq!((r.status, r.body.as_slice()), (200, BODY));
    let r = get("photos/cat.png", "HEAD");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(BODY.len().to_string().as_str())
    );
    assert_s3_error(&get("photos/dog.png", "GET"), 404, "NoSuchKey");
    assert_s3_error(&get("photos/cat.png/deeper", "GET"), 404, "NoSuchKey");
    let r = get("photos/cat.png", "DELETE");
    assert_s3_error(&r, 405, "MethodNotAllowed");
    assert_eq!(s.files(), ["photos/cat.png"]);
}

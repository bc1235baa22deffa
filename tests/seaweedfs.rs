//! Conformance against a real S3 server: SeaweedFS 4.48 (facts in
//! tests/conformance/FINDINGS.md).
//!
//! ```text
//! tests/conformance/seaweedfs.sh start
//! cargo test --test seaweedfs -- --ignored
//! tests/conformance/seaweedfs.sh stop
//! ```
//!
//! Every test is `#[ignore]`d so that a plain `cargo test` needs no server;
//! run with `--ignored`, each one panics with a clear message when the server
//! is not there, never passes silently. The endpoint is `SEAWEEDFS_ENDPOINT`
//! (default `http://127.0.0.1:8333`); virtual-hosted requests go to the same
//! address with `Host: <bucket>.<SEAWEEDFS_DOMAIN>:<port>` (default domain
//! `localhost`, the script's `-s3.domainName`). Credentials come from
//! tests/conformance/identities.json, the file the server was started with.
//!
//! The bucket set-up (create bucket, CORS) goes through our own header
//! signing; objects move only through our presigned URLs.

#[path = "common/http.rs"]
mod http;
#[path = "common/post_form.rs"]
mod post_form;

use http::Response;
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest, PresignedRequest};
use presign::sigv4::{Credentials, Request, Signer, SigningOptions};
use std::sync::OnceLock;
use time::{Duration, OffsetDateTime};

const REGION: &str = "us-east-1";
const ORIGIN: &str = "http://127.0.0.1:8080";
const CORS: &str = "<CORSConfiguration><CORSRule>\
    <AllowedOrigin>http://127.0.0.1:8080</AllowedOrigin>\
    <AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>\
    <AllowedHeader>content-type</AllowedHeader><AllowedHeader>if-none-match</AllowedHeader>\
    <ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds>\
    </CORSRule></CORSConfiguration>";

// ---------------------------------------------------------------- set-up --

/// Where the server is, and who may talk to it.
struct Server {
    /// `127.0.0.1:8333`: where every connection goes.
    connect: String,
    /// The path-style endpoint (`SEAWEEDFS_ENDPOINT`).
    endpoint: Endpoint,
    /// `http://<domain>:<port>`, for virtual-hosted buckets.
    domain_endpoint: Endpoint,
    admin: Credentials,
    user: Credentials,
    /// Unique per test process, so re-runs against one server never collide.
    run: String,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let url = std::env::var("SEAWEEDFS_ENDPOINT")
            .unwrap_or_else(|_| "http://127.0.0.1:8333".to_owned());
        let endpoint = Endpoint::parse(&url)
            .unwrap_or_else(|e| panic!("SEAWEEDFS_ENDPOINT={url:?} is not usable: {e}"));
        assert!(
            endpoint.base_path().is_empty() && !endpoint.is_https(),
            "SEAWEEDFS_ENDPOINT must be a plain http://host:port, got {url:?}"
        );
        let port = endpoint.port().unwrap_or(80);
        let connect = format!("{}:{port}", endpoint.host());
        let domain = std::env::var("SEAWEEDFS_DOMAIN").unwrap_or_else(|_| "localhost".to_owned());
        let domain_endpoint = Endpoint::parse(&format!("http://{domain}:{port}")).unwrap();

        match http::send(&connect, "GET", &format!("{url}/healthz"), &[], b"") {
            Ok(r) if r.status == 200 => {}
            Ok(r) => panic!(
                "SeaweedFS at {url} answered {} to GET /healthz (expected 200); \
                 restart it with tests/conformance/seaweedfs.sh start",
                r.status
            ),
            Err(e) => panic!(
                "SeaweedFS is not reachable at {url} ({e}). These tests need a running \
                 server: tests/conformance/seaweedfs.sh start (or set SEAWEEDFS_ENDPOINT)"
            ),
        }

        let (admin, user) = identities();
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Server {
            connect,
            endpoint,
            domain_endpoint,
            admin,
            user,
            run: format!("{}{}", std::process::id(), nanos % 1_000_000_000),
        }
    })
}

/// The admin identity and the plain one from identities.json.
fn identities() -> (Credentials, Credentials) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/identities.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let creds = |access_key: &str| {
        json["identities"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["credentials"].as_array().unwrap())
            .find(|c| c["accessKey"] == access_key)
            .map(|c| {
                Credentials::new(
                    access_key,
                    c["secretKey"].as_str().expect("secretKey is a string"),
                )
            })
            .unwrap_or_else(|| panic!("no {access_key} in {path}"))
    };
    (creds("PRESIGNTESTADMIN"), creds("PRESIGNTESTUSER"))
}

fn signer(credentials: &Credentials) -> Signer {
    Signer::new(credentials.clone(), REGION, "s3")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn path_bucket(name: &str) -> Bucket {
    Bucket::new(
        server().endpoint.clone(),
        name,
        REGION,
        AddressingStyle::Path,
    )
    .unwrap()
}

fn virtual_bucket(name: &str) -> Bucket {
    let bucket = Bucket::new(
        server().domain_endpoint.clone(),
        name,
        REGION,
        AddressingStyle::VirtualHosted,
    )
    .unwrap();
    assert_eq!(
        bucket.style(),
        AddressingStyle::VirtualHosted,
        "{name} on {} should be virtual-hosted",
        server().domain_endpoint
    );
    bucket
}

/// Sends a header-signed request made by [`Bucket::sign`].
fn send_signed(
    bucket: &Bucket,
    signer: &Signer,
    request: &ObjectRequest<'_>,
    body: &[u8],
) -> Response {
    let signed = bucket.sign(signer, request, body, now());
    let headers: Vec<(&str, &str)> = signed
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    http::send(
        &server().connect,
        &signed.method,
        &signed.url,
        &headers,
        body,
    )
    .unwrap_or_else(|e| panic!("{} {}: {e}", signed.method, signed.url))
}

/// Sends a presigned request with the headers it was signed with plus `extra`.
fn send_presigned(presigned: &PresignedRequest, extra: &[(&str, &str)], body: &[u8]) -> Response {
    send_url(presigned.method, &presigned.url, presigned, extra, body)
}

/// As [`send_presigned`], to another method or (tampered) URL.
fn send_url(
    method: &str,
    url: &str,
    presigned: &PresignedRequest,
    extra: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut headers: Vec<(&str, &str)> = presigned
        .headers
        .iter()
        .filter(|(n, _)| !extra.iter().any(|(e, _)| e.eq_ignore_ascii_case(n)))
        .copied()
        .collect();
    headers.extend_from_slice(extra);
    http::send(&server().connect, method, url, &headers, body)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

fn presign<'a>(
    bucket: &Bucket,
    credentials: &Credentials,
    request: &ObjectRequest<'a>,
) -> PresignedRequest<'a> {
    bucket
        .presign(&signer(credentials), request, now(), 300)
        .unwrap()
}

#[track_caller]
fn expect(response: &Response, status: u16, code: Option<&str>, what: &str) {
    assert!(
        response.status == status && (code.is_none() || response.s3_code().as_deref() == code),
        "{what}: expected {status} {code:?}, got {} {:?}\n{}",
        response.status,
        response.s3_code(),
        response.text()
    );
}

/// Creates `bucket` with our header signing as the admin and puts the CORS rule.
fn create_bucket(bucket: &Bucket) {
    let admin = signer(&server().admin);
    let created = send_signed(bucket, &admin, &ObjectRequest::new("PUT", ""), b"");
    expect(
        &created,
        200,
        None,
        &format!("CreateBucket {}", bucket.name()),
    );
    let cors = ObjectRequest {
        query: &[("cors", None)],
        headers: &[("content-type", "application/xml")],
        ..ObjectRequest::new("PUT", "")
    };
    let put = send_signed(bucket, &admin, &cors, CORS.as_bytes());
    expect(&put, 200, None, &format!("PutBucketCors {}", bucket.name()));
}

/// The shared path-style bucket of this test process, created once.
fn shared_bucket() -> &'static Bucket {
    static BUCKET: OnceLock<Bucket> = OnceLock::new();
    BUCKET.get_or_init(|| {
        let bucket = path_bucket(&format!("presign-{}", server().run));
        create_bucket(&bucket);
        bucket
    })
}

// --------------------------------------------------------------- the keys --

/// Keys that must survive a presigned PUT and GET byte for byte. SeaweedFS
/// collapses `//` and drops a leading `/` (FINDINGS.md), so no key here is
/// an alias of another.
fn round_trip_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "plain.txt",
        "with space.txt",
        "a b/c d/e f.bin",
        "+=&?#%~!*'(),;:@$[]",
        "unicode/ünïcödé/日本語/файл.txt",
        "emoji/😀 🎉/👩‍👩‍👧.png",
        "combining/e\u{301}/\u{200b}zero-width",
        "rtl/مرحبا بالعالم",
        "double//slash",
        "//leading-double",
        "/leading-slash",
        "dots/.../..x/x../.hidden",
        "tab\there",
        "percent/100%25/%2F/%",
        "query-like?x=1&y=2#frag",
        "tilde~/under_score/dash-",
        "UPPER/lower/MiXeD",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for c in "+=&?#%~!*'(),;:@$[] ".chars() {
        keys.push(format!("char/{c}/x{c}y"));
    }
    keys.push("x".repeat(255));
    keys.push(format!("{}/{}", "é".repeat(127), "y"));
    keys.push(
        (0..100)
            .map(|i| format!("s{i:02}"))
            .collect::<Vec<_>>()
            .join("/"),
    );
    // Exactly 1024 bytes, SeaweedFS's (and S3's) limit, in 200-byte segments.
    let mut long = (0..5)
        .map(|i| format!("{i}").repeat(200))
        .collect::<Vec<_>>()
        .join("/");
    long.push_str(&"z".repeat(1024 - long.len()));
    assert_eq!(long.len(), 1024);
    keys.push(long);
    keys
}

/// PUTs then GETs every key through presigned URLs; returns the failures.
fn round_trip_all(bucket: &Bucket, credentials: &Credentials, tag: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for (i, key) in round_trip_keys().iter().enumerate() {
        let mut body = format!("{tag} #{i} {key}\n").into_bytes();
        body.extend((0..=255u8).cycle().skip(i).take(300 + i));
        let content_type = "application/octet-stream";
        let put_headers: &[(&str, &str)] = if i % 2 == 0 {
            &[("content-type", content_type)]
        } else {
            &[]
        };
        let (put, trace) = bucket
            .presign_traced(
                &signer(credentials),
                &ObjectRequest {
                    headers: put_headers,
                    ..ObjectRequest::new("PUT", key)
                },
                now(),
                300,
            )
            .unwrap();
        let response = send_presigned(&put, &[], &body);
        if response.status != 200 {
            failures.push(format!(
                "PUT {key:?}: {} {:?}\n  url: {}\n  canonical request:\n{}\n",
                response.status,
                response.s3_code(),
                put.url,
                trace.canonical_request
            ));
            continue;
        }
        let get = presign(bucket, credentials, &ObjectRequest::new("GET", key));
        let response = send_presigned(&get, &[], b"");
        if response.status != 200 || response.body != body {
            failures.push(format!(
                "GET {key:?}: {} {:?}, body {} ({} bytes, expected {})\n  url: {}\n",
                response.status,
                response.s3_code(),
                if response.body == body {
                    "equal"
                } else {
                    "DIFFERENT"
                },
                response.body.len(),
                body.len(),
                get.url
            ));
        }
    }
    failures
}

// ----------------------------------------------------------------- tests --

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn bucket_setup_through_header_signing() {
    let bucket = path_bucket(&format!("setup-{}", server().run));
    create_bucket(&bucket);

    let admin = signer(&server().admin);
    let get_cors = ObjectRequest {
        query: &[("cors", None)],
        ..ObjectRequest::new("GET", "")
    };
    let response = send_signed(&bucket, &admin, &get_cors, b"");
    expect(&response, 200, None, "GetBucketCors");
    let text = response.text();
    for part in [
        "<AllowedOrigin>http://127.0.0.1:8080</AllowedOrigin>",
        "<ExposeHeader>ETag</ExposeHeader>",
    ] {
        assert!(text.contains(part), "GetBucketCors lacks {part}: {text}");
    }

    // The preflight a browser sends before its PUT.
    let preflight = http::send(
        &server().connect,
        "OPTIONS",
        &format!("{}{}", bucket.origin(), bucket.path("photo.png")),
        &[
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", "PUT"),
            (
                "Access-Control-Request-Headers",
                "content-type,if-none-match",
            ),
        ],
        b"",
    )
    .unwrap();
    expect(&preflight, 200, None, "CORS preflight");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ORIGIN)
    );
    assert_eq!(
        preflight.header("access-control-expose-headers"),
        Some("ETag")
    );

    // Our header signing is checked, not waved through: the plain identity
    // may not create buckets, and a wrong secret is refused.
    let other = path_bucket(&format!("denied-{}", server().run));
    let response = send_signed(
        &other,
        &signer(&server().user),
        &ObjectRequest::new("PUT", ""),
        b"",
    );
    expect(
        &response,
        403,
        Some("AccessDenied"),
        "CreateBucket as the plain identity",
    );
    let wrong = Credentials::new(server().admin.access_key_id(), "not-the-secret");
    let response = send_signed(&other, &signer(&wrong), &ObjectRequest::new("PUT", ""), b"");
    expect(
        &response,
        403,
        Some("SignatureDoesNotMatch"),
        "CreateBucket with a wrong secret",
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn presigned_put_then_get_round_trips_path_style() {
    let failures = round_trip_all(shared_bucket(), &server().user, "path");
    assert!(
        failures.is_empty(),
        "{} key(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn presigned_put_then_get_round_trips_virtual_hosted() {
    let bucket = virtual_bucket(&format!("presign-vh-{}", server().run));
    // Set up through virtual-hosted header signing too.
    create_bucket(&bucket);
    let failures = round_trip_all(&bucket, &server().user, "virtual");
    assert!(
        failures.is_empty(),
        "{} key(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn presigned_head_and_delete() {
    let bucket = shared_bucket();
    let user = &server().user;
    let key = "head and delete/ü.txt";
    let body = b"seven b";
    let put = presign(bucket, user, &ObjectRequest::new("PUT", key));
    let response = send_presigned(&put, &[], body);
    expect(&response, 200, None, "PUT");
    let etag = response.header("etag").map(str::to_owned);
    assert!(etag.is_some(), "PUT answered no ETag");

    let head = presign(bucket, user, &ObjectRequest::new("HEAD", key));
    let response = send_presigned(&head, &[], b"");
    expect(&response, 200, None, "HEAD");
    assert_eq!(response.header("content-length"), Some("7"));
    assert_eq!(response.header("etag").map(str::to_owned), etag);

    let delete = presign(bucket, user, &ObjectRequest::new("DELETE", key));
    expect(&send_presigned(&delete, &[], b""), 204, None, "DELETE");

    let get = presign(bucket, user, &ObjectRequest::new("GET", key));
    expect(
        &send_presigned(&get, &[], b""),
        404,
        Some("NoSuchKey"),
        "GET after DELETE",
    );
    expect(
        &send_presigned(&head, &[], b""),
        404,
        None,
        "HEAD after DELETE",
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn seaweedfs_refuses_dot_segments_and_long_segments() {
    let bucket = shared_bucket();
    let user = &server().user;
    let mut cases: Vec<(String, &str)> = [
        "dots/a/../b",
        "../x",
        "dots/a/..",
        "..",
        "dots/a/./b",
        "./a",
        ".",
        "dots/.",
    ]
    .into_iter()
    .map(|k| (k.to_owned(), "InvalidRequest"))
    .collect();
    cases.push((format!("long/{}", "x".repeat(256)), "KeyTooLongError"));
    cases.push((format!("long/{}y", "é".repeat(128)), "KeyTooLongError"));
    cases.push(("k".repeat(1025), "KeyTooLongError"));
    for (key, code) in &cases {
        let put = presign(bucket, user, &ObjectRequest::new("PUT", key));
        let response = send_presigned(&put, &[], b"refused");
        expect(
            &response,
            400,
            Some(code),
            &format!("PUT {key:?} ({} bytes)", key.len()),
        );
    }
}

/// A fresh key for one refusal case, and a check that nothing was written.
fn refused_key(name: &str) -> String {
    format!("refused/{name}")
}

#[track_caller]
fn assert_absent(bucket: &Bucket, key: &str) {
    let get = presign(bucket, &server().user, &ObjectRequest::new("GET", key));
    expect(
        &send_presigned(&get, &[], b""),
        404,
        Some("NoSuchKey"),
        &format!("{key} must not exist"),
    );
}

/// Replaces the value of query parameter `name` in `url`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').unwrap();
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn tampered_urls_are_refused() {
    let bucket = shared_bucket();
    let user = &server().user;
    let key = refused_key("tampered");
    let put = presign(bucket, user, &ObjectRequest::new("PUT", &key));
    let url = &put.url;

    let signature = param(url, "X-Amz-Signature");
    let last = signature.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let credential = param(url, "X-Amz-Credential");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "one signature character",
            with_param(url, "X-Amz-Signature", &flipped),
            "SignatureDoesNotMatch",
        ),
        (
            "the key",
            url.replacen("/refused/tampered?", "/refused/tampereD?", 1),
            "SignatureDoesNotMatch",
        ),
        (
            "the expiry",
            with_param(url, "X-Amz-Expires", "301"),
            "SignatureDoesNotMatch",
        ),
        (
            "the credential (another identity)",
            with_param(
                url,
                "X-Amz-Credential",
                &credential.replace("PRESIGNTESTUSER", "PRESIGNTESTADMIN"),
            ),
            "SignatureDoesNotMatch",
        ),
        (
            "the credential (unknown key)",
            with_param(
                url,
                "X-Amz-Credential",
                &credential.replace("PRESIGNTESTUSER", "PRESIGNTESTUSEX"),
            ),
            "InvalidAccessKeyId",
        ),
        (
            "the credential (region)",
            with_param(
                url,
                "X-Amz-Credential",
                &credential.replace(REGION, "eu-west-1"),
            ),
            "SignatureDoesNotMatch",
        ),
        (
            "an unsigned query parameter added",
            format!("{url}&x-id=PutObject"),
            "SignatureDoesNotMatch",
        ),
    ];
    for (what, tampered, code) in &cases {
        assert_ne!(tampered, url, "{what}: the tampering changed nothing");
        let response = send_url("PUT", tampered, &put, &[], b"tampered");
        expect(&response, 403, Some(code), &format!("changed {what}"));
    }
    assert_absent(bucket, &key);
    // The same URL, untouched, works.
    expect(
        &send_presigned(&put, &[], b"ok"),
        200,
        None,
        "the untouched URL",
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn wrong_method_is_refused() {
    let bucket = shared_bucket();
    let key = refused_key("method");
    let get = presign(bucket, &server().user, &ObjectRequest::new("GET", &key));
    let response = send_url("PUT", &get.url, &get, &[], b"x");
    expect(
        &response,
        403,
        Some("SignatureDoesNotMatch"),
        "a GET URL used to PUT",
    );
    assert_absent(bucket, &key);
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn expired_url_is_refused() {
    let bucket = shared_bucket();
    let key = refused_key("expired");
    let put = bucket
        .presign(
            &signer(&server().user),
            &ObjectRequest::new("PUT", &key),
            now() - Duration::hours(1),
            60,
        )
        .unwrap();
    assert!(put.expires_at < now());
    let response = send_presigned(&put, &[], b"late");
    expect(&response, 403, Some("AccessDenied"), "an expired URL");
    assert!(response.text().contains("expired"), "{}", response.text());
    assert_absent(bucket, &key);
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn wrong_secret_is_refused() {
    let bucket = shared_bucket();
    let key = refused_key("wrong-secret");
    let wrong = Credentials::new(server().user.access_key_id(), "not-the-secret");
    let put = presign(bucket, &wrong, &ObjectRequest::new("PUT", &key));
    expect(
        &send_presigned(&put, &[], b"x"),
        403,
        Some("SignatureDoesNotMatch"),
        "wrong secret",
    );
    assert_absent(bucket, &key);
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn signed_content_type_is_enforced() {
    let bucket = shared_bucket();
    let key = refused_key("content-type");
    let put = presign(
        bucket,
        &server().user,
        &ObjectRequest {
            headers: &[("content-type", "image/png")],
            ..ObjectRequest::new("PUT", &key)
        },
    );
    for (what, extra) in [
        ("another Content-Type", &[("Content-Type", "text/html")][..]),
        (
            "Content-Type in another case",
            &[("Content-Type", "image/PNG")][..],
        ),
    ] {
        let response = send_presigned(&put, extra, b"png?");
        expect(&response, 403, Some("SignatureDoesNotMatch"), what);
    }
    let no_type = http::send(&server().connect, "PUT", &put.url, &[], b"png?").unwrap();
    expect(
        &no_type,
        403,
        Some("SignatureDoesNotMatch"),
        "no Content-Type at all",
    );
    assert_absent(bucket, &key);
    expect(
        &send_presigned(&put, &[], b"png!"),
        200,
        None,
        "the signed Content-Type",
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn signed_content_length_is_enforced() {
    let bucket = shared_bucket();
    let key = refused_key("content-length");
    let put = presign(
        bucket,
        &server().user,
        &ObjectRequest {
            headers: &[("content-length", "10")],
            ..ObjectRequest::new("PUT", &key)
        },
    );
    for body in [&b"0123456789A"[..], &b"012345678"[..]] {
        let length = body.len().to_string();
        let response = send_presigned(&put, &[("content-length", &length)], body);
        expect(
            &response,
            403,
            Some("SignatureDoesNotMatch"),
            &format!("a {}-byte body", body.len()),
        );
    }
    assert_absent(bucket, &key);
    expect(
        &send_presigned(&put, &[], b"0123456789"),
        200,
        None,
        "the signed length",
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn if_none_match_refuses_overwrite() {
    let bucket = shared_bucket();
    let key = refused_key("if-none-match");
    let put = presign(
        bucket,
        &server().user,
        &ObjectRequest {
            headers: &[("if-none-match", "*")],
            ..ObjectRequest::new("PUT", &key)
        },
    );
    expect(
        &send_presigned(&put, &[], b"first"),
        200,
        None,
        "first PUT with If-None-Match: *",
    );
    expect(
        &send_presigned(&put, &[], b"second"),
        412,
        Some("PreconditionFailed"),
        "second PUT with If-None-Match: *",
    );
    let get = presign(bucket, &server().user, &ObjectRequest::new("GET", &key));
    let response = send_presigned(&get, &[], b"");
    expect(&response, 200, None, "GET");
    assert_eq!(response.body, b"first", "the first upload must survive");
}

/// Temporary credentials from SeaweedFS's STS (`AssumeRole` without a role,
/// header-signed by the admin with our signer for service `sts`).
fn assume_role() -> Credentials {
    let s = server();
    let body = "Action=AssumeRole&Version=2011-06-15&RoleSessionName=presign-conformance&DurationSeconds=900";
    let host = format!("{}:{}", s.endpoint.host(), s.endpoint.port().unwrap_or(80));
    let headers = [
        ("host", host.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let hash = presign::sigv4::payload_hash(body.as_bytes());
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        payload_hash: &hash,
    };
    let sts = Signer::new(s.admin.clone(), REGION, "sts");
    let signed = sts.sign_headers(&request, now(), SigningOptions::AWS);
    let mut all: Vec<(&str, &str)> = vec![headers[1]];
    all.extend(signed.headers.iter().map(|(n, v)| (*n, v.as_str())));
    let response = http::send_raw(&s.connect, "POST", &host, "/", &all, body.as_bytes())
        .unwrap_or_else(|e| panic!("STS AssumeRole: {e}"));
    assert_eq!(
        response.status,
        200,
        "STS AssumeRole failed (the server must run with -s3.iam.readOnly=false, as \
         tests/conformance/seaweedfs.sh starts it): {}",
        response.text()
    );
    let field = |name| {
        http::xml_element(&response.body, name)
            .unwrap_or_else(|| panic!("no {name} in {}", response.text()))
    };
    Credentials::new(field("AccessKeyId"), field("SecretAccessKey"))
        .with_session_token(field("SessionToken"))
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn session_token_credentials() {
    let bucket = shared_bucket();
    let temporary = assume_role();
    let token = temporary.session_token().unwrap().to_owned();
    let key = "session/token object";
    let put = presign(bucket, &temporary, &ObjectRequest::new("PUT", key));
    assert!(put.url.contains("X-Amz-Security-Token="), "{}", put.url);
    expect(
        &send_presigned(&put, &[], b"temporary"),
        200,
        None,
        "PUT with a session token",
    );
    let get = presign(bucket, &temporary, &ObjectRequest::new("GET", key));
    let response = send_presigned(&get, &[], b"");
    expect(&response, 200, None, "GET with a session token");
    assert_eq!(response.body, b"temporary");

    let url = &get.url;
    let encoded = param(url, "X-Amz-Security-Token");
    let mut altered = encoded.to_owned();
    let flip = altered.len() - 3; // inside the JWT's signature part
    let c = if &altered[flip..flip + 1] == "A" {
        "B"
    } else {
        "A"
    };
    altered.replace_range(flip..flip + 1, c);
    let dropped = url.replace(&format!("&X-Amz-Security-Token={encoded}"), "");
    let without_token = presign(
        bucket,
        &Credentials::new(temporary.access_key_id(), temporary.secret_access_key()),
        &ObjectRequest::new("GET", key),
    );
    let wrong_secret = presign(
        bucket,
        &Credentials::new(temporary.access_key_id(), "wrong").with_session_token(token),
        &ObjectRequest::new("GET", key),
    );
    for (what, url, code) in [
        (
            "token altered",
            with_param(url, "X-Amz-Security-Token", &altered),
            "InvalidAccessKeyId",
        ),
        ("token dropped", dropped, "InvalidAccessKeyId"),
        (
            "temporary key signed without its token",
            without_token.url,
            "InvalidAccessKeyId",
        ),
        (
            "wrong secret with the right token",
            wrong_secret.url,
            "SignatureDoesNotMatch",
        ),
    ] {
        let response = send_url("GET", &url, &get, &[], b"");
        expect(&response, 403, Some(code), what);
    }
}

/// The PUT exactly as the upload API signs it (content-type, content-length,
/// if-none-match) and as a browser sends it, with an Origin: the CORS
/// answer must let the page read the ETag.
#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn browser_style_upload_as_the_api_signs_it() {
    let bucket = shared_bucket();
    let key = "uploads/2026/11/29/3f2b8c1e-browser.svg";
    let body = br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#;
    let length = body.len().to_string();
    let signed = [
        ("content-type", "image/svg+xml"),
        ("content-length", length.as_str()),
        ("if-none-match", "*"),
    ];
    let put = presign(
        bucket,
        &server().user,
        &ObjectRequest {
            headers: &signed,
            ..ObjectRequest::new("PUT", key)
        },
    );
    // A browser sends the headers in its own spelling and order.
    let browser = [
        ("Origin", ORIGIN),
        ("If-None-Match", "*"),
        ("Content-Type", "image/svg+xml"),
        ("Content-Length", length.as_str()),
    ];
    let send = || {
        http::send(&server().connect, "PUT", &put.url, &browser, body)
            .unwrap_or_else(|e| panic!("PUT {}: {e}", put.url))
    };
    let response = send();
    expect(&response, 200, None, "browser-style PUT");
    assert_eq!(
        response.header("access-control-allow-origin"),
        Some(ORIGIN),
        "{:?}",
        response.headers
    );
    let exposed = response
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.eq_ignore_ascii_case("etag"), "exposed: {exposed:?}");
    assert!(response.header("etag").is_some());
    expect(
        &send(),
        412,
        Some("PreconditionFailed"),
        "the same upload again",
    );

    let view = presign(bucket, &server().user, &ObjectRequest::new("GET", key));
    let response = send_presigned(&view, &[("Origin", ORIGIN)], b"");
    expect(&response, 200, None, "GET through the view URL");
    assert_eq!(response.body, body);
    assert_eq!(response.header("content-type"), Some("image/svg+xml"));
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn header_signing_with_a_session_token() {
    let bucket = shared_bucket();
    let temporary = assume_role();
    let signer = signer(&temporary);
    let key = "session/header-signed";
    let put = send_signed(
        bucket,
        &signer,
        &ObjectRequest::new("PUT", key),
        b"by header",
    );
    expect(&put, 200, None, "header-signed PUT with a session token");
    let get = send_signed(bucket, &signer, &ObjectRequest::new("GET", key), b"");
    expect(&get, 200, None, "header-signed GET with a session token");
    assert_eq!(get.body, b"by header");
}

// ------------------------------------------------------ browser POST forms --

/// A POST form for keys under `post/`, PNG only, 10 to 100 bytes, signed
/// by the plain user at `at`.
fn sign_post(bucket: &Bucket, at: OffsetDateTime) -> presign::s3::PresignedPost {
    let conditions = [
        presign::sigv4::Condition::content_length_range(10, 100),
        presign::sigv4::Condition::starts_with("Content-Type", "image/"),
        presign::sigv4::Condition::eq("success_action_status", "201"),
    ];
    let request = presign::s3::PostRequest {
        key: "post/${filename}",
        fields: &[
            ("Content-Type", "image/png"),
            ("success_action_status", "201"),
        ],
        conditions: &conditions,
    };
    bucket
        .presign_post(&signer(&server().user), &request, at, 300)
        .unwrap()
}

fn send_post(url: &str, fields: &[(String, String)], filename: &str, file: &[u8]) -> Response {
    let body = post_form::body(fields, filename, "image/png", file);
    http::send(
        &server().connect,
        "POST",
        url,
        &[("Content-Type", &post_form::content_type())],
        &body,
    )
    .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn post_forms_we_sign_are_accepted() {
    let bucket = shared_bucket();
    let form = sign_post(bucket, now());
    for (filename, file) in [("a.png", &[7u8; 10][..]), ("b b.png", &[8u8; 100][..])] {
        let r = send_post(&form.url, &form.fields, filename, file);
        expect(&r, 201, None, &format!("POST {filename}"));
        let key = format!("post/{filename}");
        assert_eq!(
            http::xml_element(&r.body, "Key").as_deref(),
            Some(key.as_str()),
            "{}",
            r.text()
        );
        let get = presign(bucket, &server().user, &ObjectRequest::new("GET", &key));
        let read = send_presigned(&get, &[], b"");
        expect(&read, 200, None, &format!("GET {key}"));
        assert_eq!(read.body, file);
    }
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn post_forms_that_break_their_policy_are_refused_with_s3s_codes() {
    let bucket = shared_bucket();
    let form = sign_post(bucket, now());
    let fields = &form.fields;
    expect(
        &send_post(&form.url, fields, "over.png", &[1u8; 101]),
        400,
        Some("EntityTooLarge"),
        "one byte over content-length-range",
    );
    expect(
        &send_post(&form.url, fields, "under.png", &[1u8; 9]),
        400,
        Some("EntityTooSmall"),
        "one byte under content-length-range",
    );
    expect(
        &send_post(
            &form.url,
            &post_form::with(fields, "key", "elsewhere/${filename}"),
            "k.png",
            &[1u8; 10],
        ),
        403,
        Some("AccessDenied"),
        "a key outside starts-with",
    );
    expect(
        &send_post(
            &form.url,
            &post_form::with(fields, "Content-Type", "text/html"),
            "t.png",
            &[1u8; 10],
        ),
        403,
        Some("AccessDenied"),
        "a changed field",
    );
    let mut forged = fields.clone();
    let policy = forged.iter().position(|(n, _)| n == "policy").unwrap();
    let mut decoded = presign::sigv4::base64::decode(&forged[policy].1).unwrap();
    let at = decoded.windows(3).position(|w| w == b"100").unwrap();
    decoded[at] = b'9';
    forged[policy].1 = presign::sigv4::base64::encode(&decoded);
    expect(
        &send_post(&form.url, &forged, "f.png", &[1u8; 10]),
        403,
        Some("SignatureDoesNotMatch"),
        "a policy changed after signing",
    );
    let expired = sign_post(bucket, now() - Duration::seconds(301));
    expect(
        &send_post(&expired.url, &expired.fields, "e.png", &[1u8; 10]),
        403,
        Some("AccessDenied"),
        "an expired policy",
    );
    for name in ["over.png", "under.png", "k.png", "t.png", "f.png", "e.png"] {
        let key = format!("post/{name}");
        let head = presign(bucket, &server().user, &ObjectRequest::new("HEAD", &key));
        expect(
            &send_presigned(&head, &[], b""),
            404,
            None,
            &format!("HEAD {key} after a refusal"),
        );
    }
}

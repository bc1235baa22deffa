//! Browser POST uploads into the local bucket over real TCP: a signed form
//! is stored; each way a form breaks its policy is refused with S3's code,
//! as are a body that stalls or trickles and a key that clashes with an
//! object or folder; no refusal leaves a file behind.
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/post_form.rs"]
mod post_form;
#[path = "common/requests.rs"]
mod requests;
#[path = "common/server.rs"]
mod server;

use post_form::with;
use presign::s3::{AddressingStyle, Bucket, Endpoint, PostRequest, PresignedPost};
use presign::sigv4::{Condition, Credentials, Signer};
use server::TestServer;
use std::io::{Read, Write};
use time::{Duration, OffsetDateTime};

fn bucket(s: &TestServer) -> Bucket {
    let endpoint = Endpoint::parse(&format!("{}/s3", s.origin())).unwrap();
    Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).unwrap()
}

fn signer(secret: &str) -> Signer {
    Signer::new(Credentials::new(server::KEY_ID, secret), "us-east-1", "s3")
}

/// A form for keys under `uploads/`, PNG only, 10 to 100 bytes, with
/// `extra` fields (each with its condition).
fn sign(s: &TestServer, at: OffsetDateTime, extra: &[(&str, &str)]) -> PresignedPost {
    let mut fields = vec![("Content-Type", "image/png")];
    fields.extend_from_slice(extra);
    let mut conditions = vec![
        Condition::content_length_range(10, 100),
        Condition::starts_with("Content-Type", "image/"),
    ];
    conditions.extend(extra.iter().map(|(n, v)| Condition::eq(*n, *v)));
    let request = PostRequest {
        key: "uploads/${filename}",
        fields: &fields,
        conditions: &conditions,
    };
    bucket(s)
        .presign_post(&signer(server::SECRET), &request, at, 300)
        .unwrap()
}

fn post(s: &TestServer, url: &str, fields: &[(String, String)], file: &[u8]) -> http::Response {
    let body = post_form::body(fields, "photo.png", "image/png", file);
    requests::send(
        s,
        "POST",
        url,
        &[("Content-Type", &post_form::content_type())],
        &body,
    )
}

fn assert_s3_error(r: &http::Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some(code), "{}", r.text());
}

const FILE: &[u8] = b"\x89PNG\r\n\x1a\n\r\n------not-the-boundary\r\n";

#[test]
fn a_signed_form_is_stored_and_answered_as_s3_does() {
    let s = TestServer::start(&[]);
    let form = sign(&s, OffsetDateTime::now_utc(), &[]);
    assert_eq!(form.url, format!("{}/s3/local", s.origin()));
    let r = post(&s, &form.url, &form.fields, FILE);
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.header("etag").is_some());
    assert_eq!(s.files(), ["uploads/photo.png"]);
    assert_eq!(
        std::fs::read(s.dir.join("uploads/photo.png")).unwrap(),
        FILE
    );

    // 201: S3's PostResponse document; the trailing-slash URL works too.
    let form = sign(
        &s,
        OffsetDateTime::now_utc(),
        &[("success_action_status", "201")],
    );
    let r = post(&s, &format!("{}/", form.url), &form.fields, &FILE[..10]);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        http::xml_element(&r.body, "Key").as_deref(),
        Some("uploads/photo.png")
    );
    assert_eq!(
        http::xml_element(&r.body, "Bucket").as_deref(),
        Some("local")
    );
    assert_eq!(
        http::xml_element(&r.body, "ETag")
            .map(|e| e.replace("&quot;", "\""))
            .as_deref(),
        r.header("etag")
    );
    assert_eq!(
        std::fs::read(s.dir.join("uploads/photo.png")).unwrap(),
        &FILE[..10]
    );

    // 200: empty.
    let form = sign(
        &s,
        OffsetDateTime::now_utc(),
        &[("success_action_status", "200")],
    );
    let r = post(&s, &form.url, &form.fields, FILE);
    assert_eq!((r.status, r.body.len()), (200, 0), "{}", r.text());
    s.stop().unwrap();
}

#[test]
fn each_broken_policy_is_refused_with_s3s_code_and_leaves_nothing() {
    let s = TestServer::start(&[]);
    let now = OffsetDateTime::now_utc();
    let form = sign(&s, now, &[]);
    let fields = &form.fields;
    let url = &form.url;

    // content-length-range is inclusive: 100 bytes pass, 101 do not; 9 are too few.
    assert_s3_error(&post(&s, url, fields, &[7u8; 101]), 400, "EntityTooLarge");
    assert_s3_error(&post(&s, url, fields, &[7u8; 9]), 400, "EntityTooSmall");
    assert_s3_error(
        &post(&s, url, &with(fields, "key", "elsewhere/${filename}"), FILE),
        403,
        "AccessDenied",
    );
    let r = post(&s, url, &with(fields, "Content-Type", "text/html"), FILE);
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(
        r.text()
            .contains("Invalid according to Policy: Policy Condition failed"),
        "{}",
        r.text()
    );
    let r = post(&s, url, &with(fields, "acl", "public-read"), FILE);
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(r.text().contains("Extra input fields: acl"), "{}", r.text());
    let expired = sign(&s, now - Duration::seconds(301), &[]);
    let r = post(&s, url, &expired.fields, FILE);
    assert_s3_error(&r, 403, "AccessDenied");
    assert!(r.text().contains("Policy expired"), "{}", r.text());
    let forged = bucket(&s)
        .presign_post(
            &signer("not-the-secret"),
            &PostRequest {
                key: "uploads/x",
                fields: &[],
                conditions: &[],
            },
            now,
            300,
        )
        .unwrap();
    assert_s3_error(
        &post(&s, url, &forged.fields, FILE),
        403,
        "SignatureDoesNotMatch",
    );
    let without_key: Vec<_> = fields.iter().filter(|(n, _)| n != "key").cloned().collect();
    assert_s3_error(&post(&s, url, &without_key, FILE), 400, "InvalidArgument");
    let r = requests::send(
        &s,
        "POST",
        url,
        &[("Content-Type", requests::FORM_TYPE)],
        b"key=a",
    );
    assert_s3_error(&r, 400, "MalformedPOSTRequest");
    // POST to an object's URL is not an upload.
    let r = post(&s, &format!("{url}/uploads/x.png"), fields, FILE);
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(s.files(), Vec::<String>::new());
    s.stop().unwrap();
}

#[test]
fn the_servers_own_size_limit_applies_to_forms_too() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "50")]);
    let form = sign(&s, OffsetDateTime::now_utc(), &[]);
    assert_s3_error(
        &post(&s, &form.url, &form.fields, &[1u8; 51]),
        400,
        "EntityTooLarge",
    );
    assert_eq!(post(&s, &form.url, &form.fields, &[1u8; 50]).status, 204);
    s.stop().unwrap();
}

#[test]
fn a_connection_cut_inside_the_file_leaves_no_file() {
    let s = TestServer::start(&[]);
    let form = sign(&s, OffsetDateTime::now_utc(), &[]);
    // 76 of the file's 90 bytes, then the connection is cut.
    let (mut stream, _rest) = start_post(&s, &form, 90, 76);
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // The server notices the cut connection and removes its temporary file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !s.files().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(s.files(), Vec::<String>::new());
    s.stop().unwrap();
}

#[test]
fn the_api_signs_a_post_form_for_exactly_the_declared_file() {
    let s = TestServer::start(&[]);
    let image: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let r = requests::post_upload_form(
        &s,
        &format!(
            "filename=a.png&type=image%2Fpng&size={}&method=post",
            image.len()
        ),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["url"], format!("{}/s3/local", s.origin()));
    let key = body["key"].as_str().unwrap();
    let fields: Vec<(String, String)> = body["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    // serde_json sorts object members: read the order off the text.
    let text = r.text();
    let text = &text[text.find("\"fields\":").unwrap()..];
    let mut names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_by_key(|n| text.find(&format!("\"{n}\":")).unwrap());
    assert_eq!(
        names,
        [
            "Content-Type",
            "success_action_status",
            "key",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "policy",
            "x-amz-signature"
        ]
    );
    let url = body["url"].as_str().unwrap();
    assert_s3_error(&post(&s, url, &fields, &image[1..]), 400, "EntityTooSmall");
    let mut more = image.clone();
    more.push(0);
    assert_s3_error(&post(&s, url, &fields, &more), 400, "EntityTooLarge");
    assert_s3_error(
        &post(&s, url, &with(&fields, "Content-Type", "image/gif"), &image),
        403,
        "AccessDenied",
    );
    assert_eq!(s.files(), Vec::<String>::new());
    let r = post(&s, url, &fields, &image);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(http::xml_element(&r.body, "Key").as_deref(), Some(key));
    let view = requests::send(&s, "GET", body["viewUrl"].as_str().unwrap(), &[], b"");
    assert_eq!((view.status, view.body), (200, image));

    let r = requests::post_upload_form(
        &s,
        "filename=a.png&type=image%2Fpng&size=5&method=patch",
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    s.stop().unwrap();
}

/// A form for exactly `key`, with no other condition.
fn sign_key(s: &TestServer, key: &str) -> PresignedPost {
    let request = PostRequest {
        key,
        fields: &[],
        conditions: &[],
    };
    bucket(s)
        .presign_post(
            &signer(server::SECRET),
            &request,
            OffsetDateTime::now_utc(),
            300,
        )
        .unwrap()
}

#[test]
fn a_key_that_is_both_an_object_and_a_folder_is_a_conflict() {
    let s = TestServer::start(&[]);
    let upload = |key: &str| {
        let form = sign_key(&s, key);
        post(&s, &form.url, &form.fields, FILE)
    };
    assert_eq!(upload("a").status, 204);
    assert_s3_error(&upload("a/b"), 409, "KeyConflict");
    assert_eq!(upload("c/d").status, 204);
    assert_s3_error(&upload("c"), 409, "KeyConflict");
    assert_s3_error(&upload("c/d/e"), 409, "KeyConflict");
    // The objects already there are untouched; no temporary file is left.
    assert_eq!(s.files(), ["a", "c/d"]);
    assert_eq!(std::fs::read(s.dir.join("a")).unwrap(), FILE);
    s.stop().unwrap();
}

/// How long a test waits for the server at most.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Connects and sends the head of `form`'s POST with a `file_len`-byte
/// file, and its body up to `sent` bytes into the file; returns the
/// stream and the rest of the body.
fn start_post(
    s: &TestServer,
    form: &PresignedPost,
    file_len: usize,
    sent: usize,
) -> (std::net::TcpStream, Vec<u8>) {
    let body = post_form::body(&form.fields, "photo.png", "image/png", &vec![5u8; file_len]);
    let file_start = body.len() - file_len - format!("\r\n--{}--\r\n", post_form::BOUNDARY).len();
    let (authority, target) = http::url::target(&form.url);
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    write!(
        stream,
        "POST {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        post_form::content_type(),
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..file_start + sent]).unwrap();
    (stream, body[file_start + sent..].to_vec())
}

/// Waits (bounded) until the upload's temporary file exists: the file
/// part has started on the server's side.
fn wait_for_temp_file(s: &TestServer) {
    let deadline = std::time::Instant::now() + LIMIT;
    while !s.files().iter().any(|f| f.starts_with(".presign-tmp/")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no temporary file appeared: {:?}",
            s.files()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Reads the answer on `stream` and asserts that it is S3's
/// `RequestTimeout`, given less than `within_secs` after `started`, with
/// no file (partial or temporary) left behind.
fn assert_timed_out_leaving_nothing(
    s: &TestServer,
    stream: &mut std::net::TcpStream,
    started: std::time::Instant,
    within_secs: u64,
) {
    let answer = http::read_until_closed(stream);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("<Code>RequestTimeout</Code>"), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(within_secs));
    assert_eq!(s.files(), Vec::<String>::new(), "no partial file is left");
}

#[test]
fn a_form_that_stalls_inside_the_file_is_cut_and_leaves_nothing() {
    let s = TestServer::start(&[("BODY_READ_TIMEOUT_SECONDS", "1")]);
    let form = sign(&s, OffsetDateTime::now_utc(), &[]);
    let started = std::time::Instant::now();
    let (mut stream, _rest) = start_post(&s, &form, 90, 20);
    wait_for_temp_file(&s);
    assert_timed_out_leaving_nothing(&s, &mut stream, started, 6);
    s.stop().unwrap();
}

#[test]
fn a_form_that_trickles_is_cut_by_the_minimum_rate_and_leaves_nothing() {
    let s = TestServer::start(&[
        ("BODY_READ_TIMEOUT_SECONDS", "1"),
        ("BODY_MIN_BYTES_PER_SECOND", "2000"),
    ]);
    let form = sign(&s, OffsetDateTime::now_utc(), &[]);
    let started = std::time::Instant::now();
    let (mut stream, rest) = start_post(&s, &form, 90, 1);
    wait_for_temp_file(&s);
    // A byte every 200 ms: never idle for the timeout, far below the rate.
    for byte in rest.iter().take(40) {
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_timed_out_leaving_nothing(&s, &mut stream, started, 10);
    s.stop().unwrap();
}

#[test]
fn a_form_closed_without_a_file_is_answered_before_its_body_ends() {
    let s = TestServer::start(&[]);
    let form = sign(&s, OffsetDateTime::now_utc(), &[]);
    let (authority, target) = http::url::target(&form.url);
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    // The body announces a megabyte, closes the form at once and then
    // sends nothing more: the answer must not wait for the rest.
    write!(
        stream,
        "POST {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {}\r\n\
         Content-Length: 1048576\r\nConnection: close\r\n\r\n--{}--\r\n",
        post_form::content_type(),
        post_form::BOUNDARY
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut head = [0u8; 512];
    let n = stream.read(&mut head).unwrap();
    let answer = String::from_utf8_lossy(&head[..n]);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered only after {:?}",
        started.elapsed()
    );
    assert_eq!(s.files(), Vec::<String>::new());
    s.stop().unwrap();
}

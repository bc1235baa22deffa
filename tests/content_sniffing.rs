//! The local bucket reads the first bytes of every stored object and
//! refuses one that is recognisably another type than it was signed as
//! (HTML named `.png`), for presigned PUTs and POST forms alike, with
//! `400 ContentTypeMismatch` and no file left behind, over real TCP.
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/post_form.rs"]
mod post_form;
#[path = "common/server.rs"]
mod server;

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest, PostRequest};
use presign::sigv4::{Condition, Credentials, Signer};
use server::TestServer;
use time::OffsetDateTime;

fn signer() -> Signer {
    Signer::new(
        Credentials::new(server::KEY_ID, server::SECRET),
        "us-east-1",
        "s3",
    )
}

fn bucket(s: &TestServer) -> Bucket {
    let endpoint = Endpoint::parse(&format!("{}/s3", s.origin())).unwrap();
    Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).unwrap()
}

/// PUTs `body` as `content_type` through a URL that signs that type, as the API does.
fn put(s: &TestServer, key: &str, content_type: &str, body: &[u8]) -> http::Response {
    let length = body.len().to_string();
    let headers = [
        ("content-type", content_type),
        ("content-length", length.as_str()),
    ];
    let request = ObjectRequest {
        headers: &headers,
        ..ObjectRequest::new("PUT", key)
    };
    let url = bucket(s)
        .presign(&signer(), &request, OffsetDateTime::now_utc(), 300)
        .unwrap()
        .url;
    http::send(
        &s.addr.to_string(),
        "PUT",
        &url,
        &[("Content-Type", content_type)],
        body,
    )
    .unwrap()
}

/// POSTs `file` as `content_type` in a form signed for exactly that type.
fn post(s: &TestServer, content_type: &str, file: &[u8]) -> http::Response {
    let fields = [("Content-Type", content_type)];
    let conditions = [
        Condition::content_length_range(1, 10 << 20),
        Condition::eq("Content-Type", content_type),
    ];
    let request = PostRequest {
        key: "forms/${filename}",
        fields: &fields,
        conditions: &conditions,
    };
    let form = bucket(s)
        .presign_post(&signer(), &request, OffsetDateTime::now_utc(), 300)
        .unwrap();
    let body = post_form::body(&form.fields, "photo.png", content_type, file);
    http::send(
        &s.addr.to_string(),
        "POST",
        &form.url,
        &[("Content-Type", &post_form::content_type())],
        &body,
    )
    .unwrap()
}

fn assert_mismatch(r: &http::Response, found: &str, declared: &str) {
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some("ContentTypeMismatch"));
    assert_eq!(
        http::xml_element(&r.body, "Message").unwrap(),
        format!("The object's first bytes are {found}, not {declared} as signed.")
    );
}

const HTML: &[u8] =
    b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>\n";
const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

#[test]
fn html_signed_as_png_is_refused_by_put_and_nothing_is_kept() {
    let s = TestServer::start(&[]);
    // Shorter than the sniffed prefix: judged when the body ends.
    assert_mismatch(
        &put(&s, "a.png", "image/png", HTML),
        "text/html",
        "image/png",
    );
    // Far longer: refused once the first bytes are in.
    let mut long = HTML.to_vec();
    long.resize(3 << 20, b' ');
    assert_mismatch(
        &put(&s, "b.png", "image/png", &long),
        "text/html",
        "image/png",
    );
    assert_eq!(
        s.files(),
        Vec::<String>::new(),
        "no object, no temporary file"
    );
}

#[test]
fn a_png_signed_as_jpeg_is_refused_and_as_png_stored() {
    let s = TestServer::start(&[]);
    assert_mismatch(
        &put(&s, "a.jpg", "image/jpeg", PNG_HEAD),
        "image/png",
        "image/jpeg",
    );
    assert_eq!(s.files(), Vec::<String>::new());
    let r = put(&s, "a.png", "image/png", PNG_HEAD);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(std::fs::read(s.dir.join("a.png")).unwrap(), PNG_HEAD);
}

#[test]
fn bytes_of_no_known_type_are_stored_as_signed() {
    let s = TestServer::start(&[]);
    let r = put(&s, "c.png", "image/png", &[7; 10]);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = put(&s, "page.bin", "application/octet-stream", HTML);
    assert_eq!(r.status, 200, "octet-stream claims nothing: {}", r.text());
    assert_eq!(s.files(), ["c.png", "page.bin"]);
}

#[test]
fn html_signed_as_png_is_refused_by_post_and_nothing_is_kept() {
    let s = TestServer::start(&[]);
    assert_mismatch(&post(&s, "image/png", HTML), "text/html", "image/png");
    assert_eq!(s.files(), Vec::<String>::new());
    let r = post(&s, "image/png", PNG_HEAD);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(s.files(), ["forms/photo.png"]);
}

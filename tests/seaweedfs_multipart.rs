//! Multipart uploads against a real S3 server, SeaweedFS 4.48: the presign
//! server runs in-process with `S3_ENDPOINT` set to it, and every object
//! request goes through a URL that server signed, as the page would send
//! it (create, parts, ListParts, complete, abort).
//!
//! ```text
//! tests/conformance/seaweedfs.sh start
//! cargo test --test seaweedfs_multipart -- --ignored
//! tests/conformance/seaweedfs.sh stop
//! ```
//!
//! Every test is `#[ignore]`d so that a plain `cargo test` needs no server;
//! run with `--ignored`, each panics with a clear message when SeaweedFS is
//! not there. The endpoint is `SEAWEEDFS_ENDPOINT` (default
//! `http://127.0.0.1:8333`); credentials come from
//! tests/conformance/identities.json. Only the bucket is created with
//! header signing (as the admin).
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/multipart.rs"]
mod multipart;
#[path = "common/server.rs"]
mod server;

use multipart::{call, json, pattern, Api};
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{Credentials, Signer};
use server::TestServer;
use std::io::Write;
use std::sync::OnceLock;

const MIB: usize = 1024 * 1024;
const REGION: &str = "us-east-1";

/// SeaweedFS's endpoint, checked to answer.
fn endpoint() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url = std::env::var("SEAWEEDFS_ENDPOINT")
            .unwrap_or_else(|_| "http://127.0.0.1:8333".to_owned());
        let (authority, _) = http::url::target(&url);
        match http::send(authority, "GET", &format!("{url}/healthz"), &[], b"") {
            Ok(r) if r.status == 200 => {}
            other => panic!(
                "SeaweedFS is not healthy at {url} ({other:?}). These tests need a running \
                 server: tests/conformance/seaweedfs.sh start (or set SEAWEEDFS_ENDPOINT)"
            ),
        }
        url
    })
}

/// `(access key, secret)` of an identity in identities.json.
fn identity(access_key: &str) -> (String, String) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/identities.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["identities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["credentials"].as_array().unwrap())
        .find(|c| c["accessKey"] == access_key)
        .map(|c| {
            (
                access_key.to_owned(),
                c["secretKey"].as_str().unwrap().to_owned(),
            )
        })
        .unwrap_or_else(|| panic!("no {access_key} in {path}"))
}

/// A fresh bucket, created by the admin with header signing.
fn create_bucket(tag: &str) -> String {
    let name = format!(
        "presign-mp-{tag}-{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    );
    let endpoint = Endpoint::parse(endpoint()).unwrap();
    let bucket = Bucket::new(endpoint, name.as_str(), REGION, AddressingStyle::Path).unwrap();
    let (id, secret) = identity("PRESIGNTESTADMIN");
    let signer = Signer::new(Credentials::new(id, secret), REGION, "s3");
    let signed = bucket.sign(
        &signer,
        &ObjectRequest::new("PUT", ""),
        b"",
        time::OffsetDateTime::now_utc(),
    );
    let headers: Vec<(&str, &str)> = signed
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (authority, _) = http::url::target(&signed.url);
    let r = http::send(authority, "PUT", &signed.url, &headers, b"").unwrap();
    assert_eq!(r.status, 200, "CreateBucket {name}: {}", r.text());
    name
}

/// The presign server, signing for a fresh bucket on SeaweedFS as the
/// plain user.
fn presign_server(tag: &str) -> TestServer {
    let bucket = create_bucket(tag);
    let (id, secret) = identity("PRESIGNTESTUSER");
    TestServer::start(&[
        ("S3_BUCKET_NAME", bucket.as_str()),
        ("S3_ENDPOINT", endpoint()),
        ("AWS_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", secret.as_str()),
        ("UPLOAD_MAX_BYTES", "1073741824"),
    ])
}

fn api(s: &TestServer) -> Api {
    Api {
        addr: s.addr.to_string(),
    }
}

#[track_caller]
fn expect_s3(r: &http::Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some(code), "{}", r.text());
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn multipart_round_trip_through_presigned_urls_only() {
    let s = presign_server("rt");
    let api = api(&s);
    let data = pattern(20 * MIB + 123);
    let (created, id) = api.create(data.len() as u64, "image/png");
    assert_eq!(created["partCount"], 3);
    let etags = api.put_parts(&created, &id, &[3, 1, 2], &data);
    let r = api.complete(&created, &id, &etags);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("<CompleteMultipartUploadResult"),
        "{}",
        r.text()
    );
    let view = call(
        &serde_json::json!({"method": "GET", "url": created["viewUrl"]}),
        b"",
    );
    assert_eq!(view.status, 200, "{}", view.text());
    assert!(view.body == data, "the object is the file, byte for byte");
    // The type was fixed by the signed create.
    assert_eq!(view.header("content-type"), Some("image/png"));

    // A part of another length than signed is refused by the store.
    let (created, id) = api.create(6 * MIB as u64, "image/png");
    let part = &api.part_urls(&created, &id, &[1])[0];
    let longer = pattern(6 * MIB + 1);
    let r = call(part, &longer);
    assert_eq!(r.status, 403, "{}", r.text());
    // Two uploads to one key: the first to complete wins, the other,
    // with If-None-Match signed, gets 412.
    let r = call(&created["create"], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let second = http::xml_element(&r.body, "UploadId").unwrap();
    let etags = api.put_parts(&created, &second, &[1], &data[..6 * MIB]);
    let first = api.complete(&created, &second, &etags);
    assert_eq!(first.status, 200, "{}", first.text());
    let etags = api.put_parts(&created, &id, &[1], &longer[..6 * MIB]);
    let r = api.complete(&created, &id, &etags);
    expect_s3(&r, 412, "PreconditionFailed");
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn list_parts_after_an_interrupted_upload_then_resume() {
    let s = presign_server("resume");
    let api = api(&s);
    let data = pattern(20 * MIB);
    let (created, id) = api.create(data.len() as u64, "image/jpeg");
    let mut etags = api.put_parts(&created, &id, &[1, 3], &data);

    // Part 2 is cut half way, as a dropped connection would.
    let part = &api.part_urls(&created, &id, &[2])[0];
    let url = part["url"].as_str().unwrap();
    let (authority, target) = http::url::target(url);
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "PUT {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n\r\n",
        8 * MIB
    )
    .unwrap();
    stream.write_all(&data[8 * MIB..12 * MIB]).unwrap();
    drop(stream);

    // After a reload the page lists what the store has and skips it.
    let list = json(&api.step("list", &created, &id, &[]));
    let listed = call(&list, b"");
    assert_eq!(listed.status, 200, "{}", listed.text());
    let text = listed.text();
    let numbers: Vec<&str> = text
        .split("<PartNumber>")
        .skip(1)
        .map(|p| p.split('<').next().unwrap())
        .collect();
    assert_eq!(numbers, ["1", "3"], "{text}");
    let listed_etags: Vec<String> = text
        .split("<ETag>")
        .skip(1)
        .map(|p| {
            p.split('<')
                .next()
                .unwrap()
                .replace("&#34;", "\"")
                .replace("&quot;", "\"")
        })
        .collect();
    assert_eq!(listed_etags.len(), 2);
    for ((_, sent), listed) in etags.iter().zip(&listed_etags) {
        assert_eq!(sent.trim_matches('"'), listed.trim_matches('"'));
    }
    let after_1 = call(
        &json(&api.step("list", &created, &id, &[("marker", "1")])),
        b"",
    );
    assert_eq!(
        after_1.text().matches("<Part>").count(),
        1,
        "{}",
        after_1.text()
    );

    etags.extend(api.put_parts(&created, &id, &[2], &data));
    etags.sort();
    let r = api.complete(&created, &id, &etags);
    assert_eq!(r.status, 200, "{}", r.text());
    let view = call(
        &serde_json::json!({"method": "GET", "url": created["viewUrl"]}),
        b"",
    );
    assert!(
        view.body == data,
        "resumed object is the file, byte for byte"
    );
}

#[test]
#[ignore = "needs SeaweedFS: tests/conformance/seaweedfs.sh start"]
fn abort_through_a_presigned_delete() {
    let s = presign_server("abort");
    let api = api(&s);
    let data = pattern(12 * MIB);
    let (created, id) = api.create(data.len() as u64, "image/png");
    let etags = api.put_parts(&created, &id, &[1], &data);
    let abort = json(&api.step("abort", &created, &id, &[]));
    assert_eq!(abort["method"], "DELETE");
    let r = call(&abort, b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let list = json(&api.step("list", &created, &id, &[]));
    expect_s3(&call(&list, b""), 404, "NoSuchUpload");
    let r = api.complete(&created, &id, &etags);
    assert_eq!(r.status, 404, "{}", r.text());
    let view = call(
        &serde_json::json!({"method": "GET", "url": created["viewUrl"]}),
        b"",
    );
    expect_s3(&view, 404, "NoSuchKey");
}

//! Multipart uploads and batches over real TCP, against the local bucket:
//! the API signs only what the upload ticket allows, the bucket keeps S3's
//! rules, and nothing is left on disk by a refusal or an abort.
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/multipart.rs"]
mod multipart;
#[path = "common/server.rs"]
mod server;

use multipart::{call, complete_body, json, pattern, Api};
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{Credentials, Signer};
use serde_json::{json, Value};
use server::TestServer;
use time::OffsetDateTime;

const MIB: u64 = 1024 * 1024;

fn api(s: &TestServer) -> Api {
    Api {
        addr: s.addr.to_string(),
    }
}

fn assert_s3_error(r: &http::Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.s3_code().as_deref(), Some(code), "{}", r.text());
}

fn assert_api_error(r: &http::Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(json(r)["error"], code, "{}", r.text());
}

/// Every file under the bucket but the (empty) upload directories.
fn stored(s: &TestServer) -> Vec<String> {
    s.files()
}

#[test]
fn a_64_mib_upload_round_trips_byte_for_byte() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "1073741824")]);
    let api = api(&s);
    let config = json(
        &http::send(
            &api.addr,
            "GET",
            &format!("{}/api/config", s.origin()),
            &[],
            b"",
        )
        .unwrap(),
    );
    assert_eq!(config["multipartThresholdBytes"], 16 * MIB);
    assert_eq!(config["multipartPartBytes"], 8 * MIB);

    let data = pattern(64 * MIB as usize);
    let (created, id) = api.create(data.len() as u64, "image/png");
    assert_eq!(created["partSize"], 8 * MIB);
    assert_eq!(created["partCount"], 8);
    assert_eq!(created["create"]["headers"]["content-type"], "image/png");
    let key = created["key"].as_str().unwrap().to_owned();
    // Every part but 3, then 3: the order parts arrive in does not matter.
    let mut etags = api.put_parts(&created, &id, &[1, 2, 4, 5, 6, 7, 8], &data);
    etags.extend(api.put_parts(&created, &id, &[3], &data));
    etags.sort();

    let r = api.step("list", &created, &id, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let list = json(&r);
    assert!(list["url"].as_str().unwrap().contains("max-parts=1000"));
    let listed = call(&list, b"");
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.text().matches("<Part>").count(), 8);
    assert_eq!(
        http::xml_element(&listed.body, "Size").as_deref(),
        Some("8388608")
    );
    assert_eq!(
        http::xml_element(&listed.body, "IsTruncated").as_deref(),
        Some("false")
    );

    let r = api.complete(&created, &id, &etags);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("<CompleteMultipartUploadResult"),
        "{}",
        r.text()
    );
    assert!(http::xml_element(&r.body, "ETag")
        .unwrap()
        .ends_with("-8&quot;"));
    assert!(
        std::fs::read(s.dir.join(&key)).unwrap() == data,
        "same bytes"
    );
    assert_eq!(stored(&s), std::slice::from_ref(&key), "the parts are gone");
    let head = signed(&s, "HEAD", &key, &[]);
    let view = send(&s, "HEAD", &head, b"");
    assert_eq!(view.status, 200);
    assert_eq!(view.header("content-length"), Some("67108864"));
    // The upload is finished: another complete finds nothing.
    assert_s3_error(&api.complete(&created, &id, &etags), 404, "NoSuchUpload");
}

#[test]
fn a_part_of_another_length_than_signed_is_refused() {
    let s = TestServer::start(&[]);
    let api = api(&s);
    let data = pattern(8 * MIB as usize + 100);
    let (created, id) = api.create(data.len() as u64, "image/png");
    let parts = api.part_urls(&created, &id, &[1, 2]);
    assert_eq!(parts[0]["size"], 8 * MIB);
    assert_eq!(parts[1]["size"], 100);
    assert!(parts[1]["url"]
        .as_str()
        .unwrap()
        .contains("X-Amz-SignedHeaders=content-length%3Bhost"));
    let tail = &data[8 * MIB as usize..];
    let longer = [tail, b"!"].concat();
    assert_s3_error(&call(&parts[1], &longer), 403, "SignatureDoesNotMatch");
    assert_s3_error(&call(&parts[1], &tail[1..]), 403, "SignatureDoesNotMatch");
    assert_s3_error(&call(&parts[0], tail), 403, "SignatureDoesNotMatch");
    let listed = call(&json(&api.step("list", &created, &id, &[])), b"");
    assert_eq!(listed.text().matches("<Part>").count(), 0, "nothing stored");
    assert_eq!(call(&parts[1], tail).status, 200);
}

#[test]
fn part_numbers_beyond_the_ticket_are_refused() {
    let s = TestServer::start(&[]);
    let api = api(&s);
    let (created, id) = api.create(10 * MIB, "image/png");
    for bad in ["3", "0", "1,3", "x", "", "-1", "1,,2"] {
        let r = api.step("parts", &created, &id, &[("parts", bad)]);
        if bad.is_empty() {
            assert_api_error(&r, 400, "bad_request");
        } else {
            assert_api_error(&r, 400, "invalid_part");
        }
    }
    let many = vec!["1"; 101].join(",");
    assert_api_error(
        &api.step("parts", &created, &id, &[("parts", &many)]),
        400,
        "invalid_part",
    );
    let r = api.step("list", &created, &id, &[("marker", "3")]);
    assert_api_error(&r, 400, "invalid_part");
    let r = api.step("list", &created, &id, &[("marker", "2")]);
    assert!(json(&r)["url"]
        .as_str()
        .unwrap()
        .contains("part-number-marker=2"));
}

/// A ticket as the server writes it, made here with the configured key:
/// `1.<expiry>.<size>.<partSize>.<hex type>.<hex HMAC>`.
fn ticket(secret: &str, key: &str, content_type: &str, size: u64, part: u64, exp: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(b"presign multipart ticket v1\n");
    for field in [key.as_bytes(), content_type.as_bytes()] {
        mac.update(&(field.len() as u64).to_be_bytes());
        mac.update(field);
    }
    for n in [size, part, exp as u64] {
        mac.update(&n.to_be_bytes());
    }
    let mac = hex::encode(mac.finalize().into_bytes());
    format!("1.{exp}.{size}.{part}.{}.{mac}", hex::encode(content_type))
}

#[test]
fn forged_and_expired_tickets_are_refused() {
    let secret = "a-ticket-key-of-at-least-32-chars!!";
    let s = TestServer::start(&[("MULTIPART_TICKET_KEY", secret)]);
    let api = api(&s);
    let (created, id) = api.create(10 * MIB, "image/png");
    let key = created["key"].as_str().unwrap();
    let real = created["ticket"].as_str().unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let with_ticket = |ticket: &str, step: &str| {
        let fields = [
            ("key", key),
            ("ticket", ticket),
            ("uploadId", id.as_str()),
            ("parts", "1"),
        ];
        api.post(&format!("/api/multipart/{step}"), &fields)
    };
    // A ticket made the server's way is accepted: the refusals below are
    // about what was changed, not about the making.
    let made = ticket(secret, key, "image/png", 10 * MIB, 8 * MIB, now + 600);
    assert_eq!(with_ticket(&made, "parts").status, 200);

    let bigger = ticket(
        "another-key-of-at-least-32-chars!!!",
        key,
        "image/png",
        100 * MIB,
        8 * MIB,
        now + 600,
    );
    let fields: Vec<&str> = real.split('.').collect();
    let mut resized = fields.clone();
    let larger = (100 * MIB).to_string();
    resized[2] = &larger;
    for forged in [
        bigger.as_str(),
        &resized.join("."),
        "garbage",
        &real[..real.len() - 1],
    ] {
        for step in ["parts", "list", "complete", "abort"] {
            assert_api_error(&with_ticket(forged, step), 403, "invalid_ticket");
        }
    }
    // Another key's ticket does not sign for this key.
    let (other, _) = api.create(10 * MIB, "image/png");
    assert_api_error(
        &with_ticket(other["ticket"].as_str().unwrap(), "parts"),
        403,
        "invalid_ticket",
    );

    let expired = ticket(secret, key, "image/png", 10 * MIB, 8 * MIB, now - 1);
    for step in ["parts", "list", "complete"] {
        assert_api_error(&with_ticket(&expired, step), 403, "ticket_expired");
    }
    // Aborting only frees storage: an expired ticket may still do it.
    let r = with_ticket(&expired, "abort");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(call(&json(&r), b"").status, 204);
}

#[test]
fn complete_onto_an_existing_key_is_412_and_keeps_the_first_object() {
    let s = TestServer::start(&[]);
    let api = api(&s);
    let first = pattern(6 * MIB as usize);
    let (created, id) = api.create(first.len() as u64, "image/png");
    let key = created["key"].as_str().unwrap().to_owned();
    let etags = api.put_parts(&created, &id, &[1], &first);
    assert_eq!(api.complete(&created, &id, &etags).status, 200);

    // A second upload to the same key, with the same ticket and create URL.
    let r = call(&created["create"], b"");
    let second_id = http::xml_element(&r.body, "UploadId").unwrap();
    let second: Vec<u8> = first.iter().map(|b| b ^ 0xff).collect();
    let etags = api.put_parts(&created, &second_id, &[1], &second);
    assert_s3_error(
        &api.complete(&created, &second_id, &etags),
        412,
        "PreconditionFailed",
    );
    assert!(std::fs::read(s.dir.join(&key)).unwrap() == first);
    // The refused upload is still there, to abort.
    let abort = json(&api.step("abort", &created, &second_id, &[]));
    assert_eq!(call(&abort, b"").status, 204);
    assert_eq!(stored(&s), [key]);
}

#[test]
fn abort_leaves_nothing_on_disk() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "104857600")]);
    let api = api(&s);
    let data = pattern(13 * MIB as usize);
    let (created, id) = api.create(data.len() as u64, "image/jpeg");
    let etags = api.put_parts(&created, &id, &[1, 2], &data);
    assert!(!stored(&s).is_empty());
    let abort = json(&api.step("abort", &created, &id, &[]));
    assert_eq!(abort["method"], "DELETE");
    assert_eq!(call(&abort, b"").status, 204);
    assert_eq!(stored(&s), Vec::<String>::new());
    let list = json(&api.step("list", &created, &id, &[]));
    assert_s3_error(&call(&list, b""), 404, "NoSuchUpload");
    assert_s3_error(&api.complete(&created, &id, &etags), 404, "NoSuchUpload");
    assert_s3_error(&call(&abort, b""), 404, "NoSuchUpload");
    let part = &api.part_urls(&created, &id, &[1])[0];
    assert_s3_error(&call(part, &data[..8 * MIB as usize]), 404, "NoSuchUpload");
    assert_eq!(stored(&s), Vec::<String>::new());
}

fn signer() -> Signer {
    Signer::new(
        Credentials::new(server::KEY_ID, server::SECRET),
        "us-east-1",
        "s3",
    )
}

/// A URL signed directly with the bucket's keys, as any S3 client could.
fn signed(s: &TestServer, method: &str, key: &str, query: &[(&str, Option<&str>)]) -> String {
    let endpoint = Endpoint::parse(&format!("{}/s3", s.origin())).unwrap();
    let bucket = Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).unwrap();
    let request = ObjectRequest {
        query,
        ..ObjectRequest::new(method, key)
    };
    bucket
        .presign(&signer(), &request, OffsetDateTime::now_utc(), 300)
        .unwrap()
        .url
}

fn send(s: &TestServer, method: &str, url: &str, body: &[u8]) -> http::Response {
    http::send(&s.addr.to_string(), method, url, &[], body).unwrap()
}

#[test]
fn the_bucket_keeps_s3_limits() {
    let s = TestServer::start(&[]);
    let key = "limits/x.png";
    let r = send(
        &s,
        "POST",
        &signed(&s, "POST", key, &[("uploads", None)]),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<InitiateMultipartUploadResult"));
    assert_eq!(http::xml_element(&r.body, "Key").as_deref(), Some(key));
    let id = http::xml_element(&r.body, "UploadId").unwrap();
    let part = |n: &str, body: &[u8]| {
        let url = signed(
            &s,
            "PUT",
            key,
            &[("partNumber", Some(n)), ("uploadId", Some(&id))],
        );
        send(&s, "PUT", &url, body)
    };
    for bad in ["0", "10001", "x"] {
        assert_s3_error(&part(bad, b"abc"), 400, "InvalidArgument");
    }
    let small = part("1", b"too small");
    let etag1 = small.header("etag").unwrap().to_owned();
    let etag2 = part("2", b"last").header("etag").unwrap().to_owned();
    let complete = |parts: &[(u64, String)]| {
        let url = signed(&s, "POST", key, &[("uploadId", Some(&id))]);
        send(&s, "POST", &url, complete_body(parts).as_bytes())
    };
    let both = [(1, etag1.clone()), (2, etag2.clone())];
    assert_s3_error(&complete(&both), 400, "EntityTooSmall");
    assert_s3_error(
        &complete(&[(2, etag2.clone()), (1, etag1.clone())]),
        400,
        "InvalidPartOrder",
    );
    assert_s3_error(&complete(&[(1, etag2.clone())]), 400, "InvalidPart");
    assert_s3_error(&complete(&[(3, etag2.clone())]), 400, "InvalidPart");
    let url = signed(&s, "POST", key, &[("uploadId", Some(&id))]);
    assert_s3_error(&send(&s, "POST", &url, b"<Nope/>"), 400, "MalformedXML");
    // A part sent again replaces the old one.
    let again = part("1", &pattern(5 * MIB as usize));
    let etag1 = again.header("etag").unwrap().to_owned();
    let url = signed(&s, "GET", key, &[("uploadId", Some(&id))]);
    let listed = send(&s, "GET", &url, b"");
    assert_eq!(
        listed.text().matches("<Part>").count(),
        2,
        "{}",
        listed.text()
    );
    let r = complete(&[(1, etag1), (2, etag2)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let stored = std::fs::read(s.dir.join(key)).unwrap();
    assert_eq!(stored.len(), 5 * MIB as usize + 4);
    assert!(stored.ends_with(b"last"));

    let other = signed(&s, "GET", key, &[("uploadId", Some("0123"))]);
    assert_s3_error(&send(&s, "GET", &other, b""), 404, "NoSuchUpload");
    // An upload id is bound to its key.
    let r = send(
        &s,
        "POST",
        &signed(&s, "POST", key, &[("uploads", None)]),
        b"",
    );
    let id = http::xml_element(&r.body, "UploadId").unwrap();
    let elsewhere = signed(&s, "GET", "limits/y.png", &[("uploadId", Some(&id))]);
    assert_s3_error(&send(&s, "GET", &elsewhere, b""), 404, "NoSuchUpload");
    let tampered = signed(&s, "DELETE", key, &[("uploadId", Some(&id))])
        .replace("X-Amz-Signature=", "X-Amz-Signature=0");
    assert_s3_error(
        &send(&s, "DELETE", &tampered, b""),
        403,
        "SignatureDoesNotMatch",
    );
    let abort = signed(&s, "DELETE", key, &[("uploadId", Some(&id))]);
    assert_eq!(send(&s, "DELETE", &abort, b"").status, 204);
}

fn batch_item(name: &str, content_type: &str, size: u64) -> Value {
    json!({"filename": name, "type": content_type, "size": size})
}

#[test]
fn a_batch_signs_every_good_file_and_refuses_only_the_bad_ones() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "1000")]);
    let api = api(&s);
    let body = json!({"files": [
        batch_item("a.png", "image/png", 10),
        batch_item("page.html", "text/html", 10),
        batch_item("b.jpg", "IMAGE/JPEG", 1000),
        batch_item("huge.png", "image/png", 1001),
        {"filename": "c.png", "type": "image/png"},
        batch_item("d.png", "image/png", 0),
    ]});
    let r = api.post_json("/api/uploads/batch", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let uploads = json(&r)["uploads"].as_array().unwrap().clone();
    let codes: Vec<&str> = uploads
        .iter()
        .map(|u| u["error"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "ok",
            "type_not_allowed",
            "ok",
            "too_large",
            "bad_request",
            "bad_request"
        ]
    );
    assert!(uploads[1]["message"]
        .as_str()
        .unwrap()
        .contains("text/html"));
    assert_eq!(uploads[2]["headers"]["content-type"], "image/jpeg");
    assert_ne!(uploads[0]["key"], uploads[2]["key"]);
    let file = [7u8; 10];
    let put = call(&uploads[0], &file);
    assert_eq!(put.status, 200, "{}", put.text());
    let key = uploads[0]["key"].as_str().unwrap();
    assert_eq!(std::fs::read(s.dir.join(key)).unwrap(), file);

    for (bad, status) in [
        (json!({"files": []}), 400),
        (json!({"files": "a.png"}), 400),
        (json!([batch_item("a.png", "image/png", 10)]), 400),
        (
            json!({"files": vec![batch_item("a.png", "image/png", 10); 101]}),
            400,
        ),
    ] {
        assert_api_error(
            &api.post_json("/api/uploads/batch", &bad),
            status,
            "bad_request",
        );
    }
    let r = http::send(
        &api.addr,
        "POST",
        &format!("{}/api/uploads/batch", s.origin()),
        &[("Content-Type", "application/json")],
        b"{\"files\": [",
    )
    .unwrap();
    assert_api_error(&r, 400, "bad_request");
    let r = api.post("/api/uploads/batch", &[("files", "a.png")]);
    assert_api_error(&r, 415, "unsupported_body");
}

#[test]
fn the_rate_limit_counts_a_batch_once() {
    let s = TestServer::start(&[("RATE_LIMIT_PER_MINUTE", "2")]);
    let api = api(&s);
    let files: Vec<Value> = (0..20)
        .map(|i| batch_item(&format!("{i}.png"), "image/png", 100))
        .collect();
    let body = json!({ "files": files });
    for _ in 0..2 {
        let r = api.post_json("/api/uploads/batch", &body);
        assert_eq!(r.status, 201, "{}", r.text());
        let uploads = json(&r)["uploads"].as_array().unwrap().clone();
        assert_eq!(uploads.len(), 20);
        assert!(uploads.iter().all(|u| u["url"].is_string()));
    }
    let r = api.post_json("/api/uploads/batch", &body);
    assert_api_error(&r, 429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Every API request counts alike.
    assert_api_error(
        &api.post(
            "/api/multipart",
            &[("filename", "a"), ("type", "image/png"), ("size", "1")],
        ),
        429,
        "rate_limited",
    );
}

#[test]
fn one_put_takes_at_most_5_gib_and_bigger_files_go_multipart() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "53687091200")]);
    let api = api(&s);
    let six_gib = (6 * 1024 * MIB).to_string();
    let r = api.post(
        "/api/uploads",
        &[
            ("filename", "v.png"),
            ("type", "image/png"),
            ("size", &six_gib),
        ],
    );
    assert_api_error(&r, 413, "too_large");
    assert!(json(&r)["message"]
        .as_str()
        .unwrap()
        .contains("/api/multipart"));
    let r = api.post(
        "/api/multipart",
        &[
            ("filename", "v.png"),
            ("type", "image/png"),
            ("size", &six_gib),
        ],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(json(&r)["partCount"], 768);
    // 10,000 parts at most: for a file over 10,000 parts of 8 MiB, the
    // part size grows.
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "5497558138880")]);
    let api = self::api(&s);
    for size in [100 * 1024 * MIB, 5 * 1024 * 1024 * MIB] {
        let text = size.to_string();
        let r = api.post(
            "/api/multipart",
            &[
                ("filename", "v.png"),
                ("type", "image/png"),
                ("size", &text),
            ],
        );
        let created = json(&r);
        let part_size = created["partSize"].as_u64().unwrap();
        assert_eq!(part_size, size.div_ceil(10_000));
        assert_eq!(created["partCount"], size.div_ceil(part_size));
        assert!(created["partCount"].as_u64().unwrap() <= 10_000);
    }
    let too_big = (5 * 1024 * 1024 * MIB + 1).to_string();
    let r = api.post(
        "/api/multipart",
        &[
            ("filename", "v.png"),
            ("type", "image/png"),
            ("size", &too_big),
        ],
    );
    assert_api_error(&r, 413, "too_large");
}

#[test]
fn the_new_paths_take_post_and_answer_preflights() {
    let app = "http://app.example:8080";
    let s = TestServer::start(&[("ALLOWED_ORIGINS", app)]);
    let addr = s.addr.to_string();
    for path in [
        "/api/uploads/batch",
        "/api/multipart",
        "/api/multipart/parts",
        "/api/multipart/list",
        "/api/multipart/complete",
        "/api/multipart/abort",
    ] {
        let url = format!("{}{path}", s.origin());
        let r = http::send(&addr, "GET", &url, &[], b"").unwrap();
        assert_api_error(&r, 405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("POST"), "{path}");
        let r = http::send(
            &addr,
            "OPTIONS",
            &url,
            &[
                ("Origin", app),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 204, "{path}: {}", r.text());
        assert_eq!(r.header("access-control-allow-origin"), Some(app));
        assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    }
    // A listed origin's POST gets its CORS headers; another origin is refused.
    let r = http::send(
        &addr,
        "POST",
        &format!("{}/api/multipart", s.origin()),
        &[
            ("Origin", app),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"filename=a.png&type=image%2Fpng&size=2000000",
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(app));
    let r = http::send(
        &addr,
        "POST",
        &format!("{}/api/uploads/batch", s.origin()),
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "application/json"),
        ],
        br#"{"files": [{"filename": "a.png", "type": "image/png", "size": 1}]}"#,
    )
    .unwrap();
    assert_api_error(&r, 403, "origin_not_allowed");
}

#[test]
fn a_multipart_object_whose_bytes_are_html_is_refused_at_complete() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "104857600")]);
    let api = api(&s);
    let mut data = pattern(6 * MIB as usize);
    let page = b"<!DOCTYPE html><html><script>alert(1)</script>";
    data[..page.len()].copy_from_slice(page);
    let (created, id) = api.create(data.len() as u64, "image/png");
    let etags = api.put_parts(&created, &id, &[1], &data);
    let r = api.complete(&created, &id, &etags);
    assert_s3_error(&r, 400, "ContentTypeMismatch");
    let key = created["key"].as_str().unwrap();
    assert!(!s.dir.join(key).exists(), "no object placed");
    // The upload stays open (the part can be sent again); abort clears it.
    assert_eq!(
        call(&json(&api.step("abort", &created, &id, &[])), b"").status,
        204
    );
    assert_eq!(stored(&s), Vec::<String>::new());
}

#[test]
fn a_create_sent_again_answers_the_same_upload() {
    let s = TestServer::start(&[("UPLOAD_MAX_BYTES", "104857600")]);
    let api = api(&s);
    let data = pattern(6 * MIB as usize);
    let (created, id) = api.create(data.len() as u64, "image/png");
    // The same presigned create URL, sent twice more: no new upload opens.
    for _ in 0..2 {
        let again = call(&created["create"], b"");
        assert_eq!(again.status, 200, "{}", again.text());
        assert_eq!(
            http::xml_element(&again.body, "UploadId").as_deref(),
            Some(id.as_str())
        );
    }
    let uploads = s.dir.join(".presign-tmp/multipart");
    assert_eq!(std::fs::read_dir(uploads).unwrap().count(), 1);
}

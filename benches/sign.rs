//! What one presigned upload URL costs, next to the cryptography it cannot
//! avoid: one SHA-256 of the canonical request and one HMAC of the string to
//! sign. The goal is a URL at most twice the price of those raw primitives.
//!
//! `cargo bench --bench sign -- --warm-up-time 1 --measurement-time 3`
//!
//! The last line it prints times both in alternating batches: the ratio
//! least disturbed by other work on the machine.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{
    verify_presigned, Credentials, Received, Signer, VerifyOptions, UNSIGNED_PAYLOAD,
};
use sha2::{Digest, Sha256};
use std::time::Instant;
use time::{Duration, OffsetDateTime};

/// The upload the server signs for every file: a PUT that must carry the
/// declared type and size and must not overwrite anything.
const HEADERS: [(&str, &str); 3] = [
    ("content-type", "image/png"),
    ("content-length", "1048576"),
    ("if-none-match", "*"),
];
const KEY_NAME: &str = "uploads/2026/11/29/0b8e4c6a-3f2d-4b7e-9a1c-5d6e7f8a9b0c.png";

fn signer() -> Signer {
    Signer::new(
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        "us-east-1",
        "s3",
    )
}

fn bucket() -> Bucket {
    let endpoint = Endpoint::parse("http://127.0.0.1:3000/s3").expect("endpoint");
    Bucket::new(endpoint, "uploads", "us-east-1", AddressingStyle::Path).expect("bucket")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_953_600).expect("time")
}

fn presign(c: &mut Criterion) {
    let (signer, bucket, now) = (signer(), bucket(), now());
    let put = ObjectRequest {
        headers: &HEADERS,
        ..ObjectRequest::new("PUT", KEY_NAME)
    };
    // The first URL of the day derives the signing key; the server's are cached.
    let first = bucket.presign(&signer, &put, now, 300).expect("presign");
    c.bench_function("presign PUT url (cached key)", |b| {
        b.iter(|| bucket.presign(&signer, black_box(&put), black_box(now), 300))
    });

    let url = first.url;
    let rest = url.split_once("://").expect("absolute URL").1;
    let (authority, target) = rest.split_at(rest.find('/').expect("path"));
    let (path, query) = target.split_once('?').expect("query");
    let mut headers = vec![("host", authority)];
    headers.extend(HEADERS);
    let received = Received {
        method: "PUT",
        path,
        query,
        headers: &headers,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let at = now + Duration::seconds(5);
    verify_presigned(&received, at, VerifyOptions::default(), |_| Some(&signer)).expect("valid");
    c.bench_function("verify presigned PUT url", |b| {
        b.iter(|| {
            verify_presigned(black_box(&received), at, VerifyOptions::default(), |_| {
                Some(&signer)
            })
        })
    });
}

const CANONICAL_REQUEST: [u8; 300] = [b'c'; 300];
const STRING_TO_SIGN: [u8; 200] = [b's'; 200];
const KEY: [u8; 32] = [b'k'; 32];

fn sha256(data: &[u8]) -> impl Sized {
    Sha256::digest(data)
}

fn hmac(key: &[u8], data: &[u8]) -> impl Sized {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes()
}

/// The cryptography a URL cannot avoid: SHA-256 of ~300 B and HMAC of ~200 B.
fn raw_primitives() -> impl Sized {
    (
        sha256(black_box(&CANONICAL_REQUEST)),
        hmac(black_box(&KEY), black_box(&STRING_TO_SIGN)),
    )
}

fn primitives(c: &mut Criterion) {
    c.bench_function("raw sha256 300 B", |b| {
        b.iter(|| sha256(black_box(&CANONICAL_REQUEST)))
    });
    c.bench_function("raw hmac-sha256 200 B (key setup included)", |b| {
        b.iter(|| hmac(black_box(&KEY), black_box(&STRING_TO_SIGN)))
    });
    c.bench_function("raw sha256 300 B + hmac-sha256 200 B", |b| {
        b.iter(raw_primitives)
    });
}

/// Criterion times the URL and the raw primitives in separate windows, and
/// on a shared host a neighbour can slow one window and not the other. Here
/// they alternate, batch by batch, so both see the same machine; the ratio
/// of their medians is the figure to compare with the 2× goal.
fn interleaved() {
    const BATCH: usize = 1_000;
    const ROUNDS: usize = 300;
    let (signer, bucket, now) = (signer(), bucket(), now());
    let put = ObjectRequest {
        headers: &HEADERS,
        ..ObjectRequest::new("PUT", KEY_NAME)
    };
    let time_batch = |f: &dyn Fn()| {
        let started = Instant::now();
        for _ in 0..BATCH {
            f();
        }
        started.elapsed().as_nanos() as f64 / BATCH as f64
    };
    let (mut url, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        url.push(time_batch(&|| {
            black_box(bucket.presign(&signer, black_box(&put), black_box(now), 300)).ok();
        }));
        raw.push(time_batch(&|| {
            black_box(raw_primitives());
        }));
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let (url, raw) = (median(&mut url), median(&mut raw));
    println!(
        "interleaved, medians of {ROUNDS} batches of {BATCH}: presigned PUT URL {url:.0} ns, \
         raw sha256 + hmac {raw:.0} ns: {:.2}x",
        url / raw
    );
}

criterion_group!(benches, presign, primitives);
criterion_main!(benches, interleaved);

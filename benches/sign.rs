//! What one presigned upload URL costs, next to the cryptography it cannot
//! avoid: one SHA-256 of the canonical request and one HMAC of the string to
//! sign. The goal is a URL at most twice the price of those raw primitives.
//!
//! `cargo bench --bench sign -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{
    verify_presigned, Credentials, Received, Signer, VerifyOptions, UNSIGNED_PAYLOAD,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// The upload the server signs for every file: a PUT that must carry the
/// declared type and size and must not overwrite anything.
const HEADERS: [(&str, &str); 3] = [
    ("content-type", "image/png"),
    ("content-length", "1048576"),
    ("if-none-match", "*"),
];
const KEY: &str = "uploads/2026/11/29/0b8e4c6a-3f2d-4b7e-9a1c-5d6e7f8a9b0c.png";

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
        ..ObjectRequest::new("PUT", KEY)
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

fn primitives(c: &mut Criterion) {
    let canonical_request = [b'c'; 300];
    let string_to_sign = [b's'; 200];
    let key = [b'k'; 32];
    let sha256 = |data: &[u8]| Sha256::digest(data);
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
        mac.update(data);
        mac.finalize().into_bytes()
    };
    c.bench_function("raw sha256 300 B", |b| {
        b.iter(|| sha256(black_box(&canonical_request)))
    });
    c.bench_function("raw hmac-sha256 200 B (key setup included)", |b| {
        b.iter(|| hmac(black_box(&key), black_box(&string_to_sign)))
    });
    c.bench_function("raw sha256 300 B + hmac-sha256 200 B", |b| {
        b.iter(|| {
            (
                sha256(black_box(&canonical_request)),
                hmac(black_box(&key), black_box(&string_to_sign)),
            )
        })
    });
}

criterion_group!(benches, presign, primitives);
criterion_main!(benches);

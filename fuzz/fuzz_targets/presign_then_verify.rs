//! Whatever the key, headers, query, credentials, time and bucket, a URL we
//! presign is one our verifier accepts, sent as it was signed, from its
//! signing time to its last second, and for what it was signed.
//!
//! Requests S3 would refuse are refused by `Bucket::presign` itself, and
//! exactly those: a header named `host` or not an HTTP token, a query
//! parameter named like one of the signature's `X-Amz-*`, or a `/` in the
//! access key id or the region (the service is `s3`), which splits the
//! credential scope. For the rest, header names are kept to their token
//! characters and everything else is left as the fuzzer makes it.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest, PresignError};
use presign::sigv4::{
    expiry, verify_presigned, Credentials, Received, Signer, VerifyErrorKind, VerifyOptions,
    AUTH_PARAMETERS, MAX_EXPIRES, UNSIGNED_PAYLOAD,
};
use time::{Duration, OffsetDateTime};

/// 9999-12-31T23:59:59Z, the last second `time` (without `large-dates`) has.
const LAST_SECOND: i64 = 253_402_300_799;

const ENDPOINTS: [&str; 4] = [
    "http://127.0.0.1:3000/s3",
    "http://localhost:9000",
    "http://s3.example.com:8080/base/path/",
    "http://[::1]:9000",
];

/// DNS-safe, dotted (virtual-hosted over http only) and not DNS-safe
/// (always path style).
const BUCKETS: [&str; 4] = ["b", "my-bucket", "my.dotted.bucket", "Not_DNS_Safe"];

#[derive(Debug, Arbitrary)]
struct Input {
    method: Method,
    key: String,
    /// Up to twelve: more than seven exercise the heap fallbacks of
    /// `Bucket::presign` and `canonical::headers`.
    headers: Vec<(String, String)>,
    /// Up to eight.
    query: Vec<(String, Option<String>)>,
    access_key_id: String,
    secret: String,
    region: String,
    session_token: Option<String>,
    endpoint: u8,
    bucket: u8,
    virtual_hosted: bool,
    expires: u32,
    /// Taken into 1970-01-01 to 9999-12-31.
    unix_seconds: i64,
    nanoseconds: u32,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Method {
    Get,
    Put,
    Head,
    Delete,
    Post,
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fuzz_target!(|input: Input| check(&input));

fn check(input: &Input) {
    let method = match input.method {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Head => "HEAD",
        Method::Delete => "DELETE",
        Method::Post => "POST",
    };
    let names: Vec<String> = input
        .headers
        .iter()
        .take(12)
        .map(|(name, _)| {
            name.bytes()
                .filter(|&b| is_token(b))
                .map(char::from)
                .collect()
        })
        .collect();
    let headers: Vec<(&str, &str)> = names
        .iter()
        .zip(&input.headers)
        .map(|(name, (_, value))| (name.as_str(), value.as_str()))
        .filter(|(name, _)| !name.is_empty() && !name.eq_ignore_ascii_case("host"))
        .collect();
    let query: Vec<(&str, Option<&str>)> = input
        .query
        .iter()
        .take(8)
        .map(|(name, value)| (name.as_str(), value.as_deref()))
        .collect();
    let mut credentials = Credentials::new(input.access_key_id.as_str(), input.secret.as_str());
    if let Some(token) = &input.session_token {
        credentials = credentials.with_session_token(token.as_str());
    }
    let signer = Signer::new(credentials, input.region.as_str(), "s3");
    let style = if input.virtual_hosted {
        AddressingStyle::VirtualHosted
    } else {
        AddressingStyle::Path
    };
    let endpoint = Endpoint::parse(ENDPOINTS[usize::from(input.endpoint) % ENDPOINTS.len()])
        .expect("a valid endpoint");
    let bucket_name = BUCKETS[usize::from(input.bucket) % BUCKETS.len()];
    let bucket = Bucket::new(endpoint, bucket_name, input.region.as_str(), style)
        .expect("a valid bucket name");
    let expires = 1 + input.expires % MAX_EXPIRES;
    let signed_at =
        OffsetDateTime::from_unix_timestamp(input.unix_seconds.rem_euclid(LAST_SECOND + 1))
            .expect("a time within years 1970 to 9999")
            .replace_nanosecond(input.nanoseconds % 1_000_000_000)
            .expect("a valid nanosecond");

    let request = ObjectRequest {
        method,
        key: &input.key,
        query: &query,
        headers: &headers,
    };
    // Names that are not tokens, and `host`, are refused before anything
    // else: the first of them is named.
    let raw_headers: Vec<(&str, &str)> = input
        .headers
        .iter()
        .take(12)
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    if let Some((name, _)) = raw_headers.iter().find(|(name, _)| {
        name.is_empty() || name.eq_ignore_ascii_case("host") || !name.bytes().all(is_token)
    }) {
        let raw = ObjectRequest {
            headers: &raw_headers,
            ..request
        };
        let refused = bucket.presign(&signer, &raw, signed_at, expires);
        assert_eq!(refused.unwrap_err(), PresignError::Header((*name).to_owned()));
    }

    let presigned = bucket.presign(&signer, &request, signed_at, expires);
    let reserved = |name: &str| {
        AUTH_PARAMETERS
            .iter()
            .chain(&["X-Amz-Security-Token"])
            .any(|p| p.eq_ignore_ascii_case(name))
    };
    if let Some((name, _)) = query.iter().find(|(name, _)| reserved(name)) {
        assert_eq!(
            presigned.unwrap_err(),
            PresignError::QueryParameter((*name).to_owned())
        );
        return;
    }
    if input.access_key_id.contains('/') || input.region.contains('/') {
        assert!(matches!(presigned, Err(PresignError::Scope(_))));
        return;
    }
    let presigned = presigned.expect("a valid request");
    // X-Amz-Date has whole seconds, and so has the end of the URL's life.
    let whole_second = signed_at.replace_nanosecond(0).expect("zero is valid");
    assert_eq!(presigned.expires_at, expiry(whole_second, expires));

    let url = &presigned.url;
    let (authority, path, query) = split(url);
    let mut sent = vec![("host", authority)];
    sent.extend_from_slice(presigned.headers);
    let received = Received {
        method,
        path,
        query,
        headers: &sent,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let verify_at =
        |now| verify_presigned(&received, now, VerifyOptions::default(), |_| Some(&signer));

    let verified = match verify_at(signed_at) {
        Ok(verified) => verified,
        Err(e) => panic!("{e}\nurl: {url}\nheaders: {sent:?}\n{:#?}", e.trace()),
    };
    assert_eq!(verified.access_key_id, input.access_key_id);
    let mut signed: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .chain(["host".to_owned()])
        .collect();
    signed.sort();
    signed.dedup();
    assert_eq!(verified.signed_headers, signed);

    let expires_at = verified.expires_at;
    assert_eq!(expires_at, presigned.expires_at);
    assert!(verify_at(expires_at).is_ok(), "valid to its end: {url}");
    if let Some(late) = expires_at.checked_add(Duration::seconds(1)) {
        let refused = verify_at(late).expect_err("expired");
        assert_eq!(refused.kind(), VerifyErrorKind::Expired, "{url}");
    }
}

/// `(authority, path, query)` of a presigned URL, as a server receives them.
fn split(url: &str) -> (&str, &str, &str) {
    let rest = url.split_once("://").expect("an absolute URL").1;
    let (authority, target) = rest.split_at(rest.find('/').expect("a path"));
    let (path, query) = target.split_once('?').expect("a query");
    (authority, path, query)
}

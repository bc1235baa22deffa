//! Whatever the key, headers, query and credentials, a URL we presign is
//! one our verifier accepts, sent as it was signed.
//!
//! Inputs stay within what a request can carry: header names are HTTP
//! tokens, access key ids are letters and digits, and query parameters do
//! not reuse the `X-Amz-*` names of the signature itself.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{
    verify_presigned, Credentials, Received, Signer, VerifyOptions, MAX_EXPIRES, UNSIGNED_PAYLOAD,
};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Arbitrary)]
struct Input {
    method: Method,
    key: String,
    /// More than eight exercise the signer's heap fallbacks.
    headers: Vec<(String, String)>,
    query: Vec<(String, Option<String>)>,
    session_token: Option<String>,
    access_key_id: String,
    path_style: bool,
    expires: u32,
    /// Seconds after 2000-01-01, up to about 2136.
    signed_at: u32,
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

fuzz_target!(|input: Input| {
    let method = match input.method {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Head => "HEAD",
        Method::Delete => "DELETE",
        Method::Post => "POST",
    };
    let headers: Vec<(String, &str)> = input
        .headers
        .iter()
        .take(12)
        .map(|(name, value)| {
            (
                name.bytes()
                    .filter(|&b| is_token(b))
                    .map(char::from)
                    .collect(),
                value.as_str(),
            )
        })
        .filter(|(name, _): &(String, &str)| !name.is_empty() && !name.eq_ignore_ascii_case("host"))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let query: Vec<(&str, Option<&str>)> = input
        .query
        .iter()
        .take(8)
        .filter(|(name, _)| {
            !name
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
        })
        .map(|(name, value)| (name.as_str(), value.as_deref()))
        .collect();
    // AWS access key ids are letters and digits; a `/` would split the
    // credential scope.
    let access_key_id: String = input
        .access_key_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let mut credentials = Credentials::new(access_key_id, "fuzz-secret");
    if let Some(token) = &input.session_token {
        credentials = credentials.with_session_token(token.as_str());
    }
    let signer = Signer::new(credentials, "eu-west-1", "s3");
    let style = if input.path_style {
        AddressingStyle::Path
    } else {
        AddressingStyle::VirtualHosted
    };
    let endpoint = Endpoint::parse("http://s3.example.com:9000/base").expect("endpoint");
    let bucket = Bucket::new(endpoint, "fuzz-bucket", "eu-west-1", style).expect("bucket");
    let signed_at = OffsetDateTime::from_unix_timestamp(946_684_800 + i64::from(input.signed_at))
        .expect("in range");
    let expires = 1 + input.expires % MAX_EXPIRES;
    let request = ObjectRequest {
        method,
        key: &input.key,
        query: &query,
        headers: &headers,
    };
    let presigned = bucket
        .presign(&signer, &request, signed_at, expires)
        .expect("a valid expiry");

    let url = &presigned.request.url;
    let rest = url.split_once("://").expect("absolute URL").1;
    let (authority, target) = rest.split_at(rest.find('/').expect("a path"));
    let (path, query) = target.split_once('?').expect("a query");
    let mut sent = vec![("host", authority)];
    sent.extend(
        presigned
            .request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str())),
    );
    let received = Received {
        method,
        path,
        query,
        headers: &sent,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let at = signed_at + Duration::seconds(i64::from(expires));
    let verified = verify_presigned(&received, at, VerifyOptions::default(), |_| Some(&signer));
    assert!(verified.is_ok(), "{url}\n{headers:?}\n{verified:?}");
});

//! Property: whatever the key, headers and query, what we presign our
//! verifier accepts; and changing any single signed thing makes it refuse.

#[path = "common/url.rs"]
mod url;

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{AmzDate, Credentials, Signer, VerifyError, VerifyErrorKind};
use proptest::prelude::*;
use time::{macros::datetime, Duration};

const T: time::OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

struct Signed {
    signer: Signer,
    url: String,
    headers: Vec<(String, String)>,
}

impl Signed {
    /// Verifies the URL with `path` and `query` in place of its own.
    fn verify(
        &self,
        path: &str,
        query: &str,
        headers: &[(String, String)],
    ) -> Result<(), VerifyError> {
        let (authority, _, _) = url::split(&self.url);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        url::verify(
            "PUT",
            &format!("http://{authority}{path}?{query}"),
            &headers,
            T + Duration::seconds(5),
            &self.signer,
        )
    }
}

fn sign(key: &str, header_values: &[String], query: &[(String, String)]) -> Signed {
    let signer = Signer::new(
        Credentials::new("AKIDPROP", "prop-secret"),
        "us-east-1",
        "s3",
    );
    let bucket = Bucket::new(
        Endpoint::parse("http://127.0.0.1:3000/s3").unwrap(),
        "b",
        "us-east-1",
        AddressingStyle::Path,
    )
    .unwrap();
    let names: Vec<String> = (0..header_values.len())
        .map(|i| format!("x-amz-meta-h{i}"))
        .collect();
    let headers: Vec<(&str, &str)> = names
        .iter()
        .zip(header_values)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let query: Vec<(&str, Option<&str>)> = query
        .iter()
        .map(|(n, v)| (n.as_str(), Some(v.as_str())))
        .collect();
    let request = ObjectRequest {
        method: "PUT",
        key,
        query: &query,
        headers: &headers,
    };
    let presigned = bucket.presign(&signer, &request, T, 600).unwrap();
    Signed {
        signer,
        url: presigned.url,
        headers: presigned
            .headers
            .iter()
            .map(|&(n, v)| (n.to_owned(), v.to_owned()))
            .collect(),
    }
}

/// A different character at the same place, never white space (which the
/// canonical form may squeeze) and never one that decodes to the same byte.
fn other_char(c: char) -> char {
    if c == 'q' {
        'z'
    } else {
        'q'
    }
}

fn mutate(s: &str, at: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let i = at % chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(j, &c)| if j == i { other_char(c) } else { c })
        .collect()
}

fn header_value() -> impl Strategy<Value = String> {
    // Visible ASCII words separated by single spaces: what HTTP carries.
    "[!-~]{1,12}( [!-~]{1,12}){0,3}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn presign_then_verify_accepts(
        key in "\\PC{1,40}",
        values in prop::collection::vec(header_value(), 0..3),
        query in prop::collection::vec(("[a-z]{1,8}", "\\PC{0,12}"), 0..3),
    ) {
        let signed = sign(&key, &values, &query);
        let (_, path, q) = url::split(&signed.url);
        prop_assert!(signed.verify(path, q, &signed.headers).is_ok(), "{}", signed.url);
    }

    #[test]
    fn any_single_change_is_refused(
        key in "\\PC{1,40}",
        values in prop::collection::vec(header_value(), 1..3),
        at in any::<usize>(),
        which in 0usize..3,
    ) {
        let signed = sign(&key, &values, &[]);
        let (_, path, q) = url::split(&signed.url);

        let signature = url::param(q, "X-Amz-Signature");
        let bad = url::with_param(q, "X-Amz-Signature", &mutate(signature, at));
        let e = signed.verify(path, &bad, &signed.headers).unwrap_err();
        prop_assert_eq!(e.kind(), VerifyErrorKind::SignatureMismatch);

        let other_key = sign(&mutate(&key, at), &values, &[]);
        let (_, other_path, _) = url::split(&other_key.url);
        prop_assert!(signed.verify(other_path, q, &signed.headers).is_err());

        let mut headers = signed.headers.clone();
        let h = which % headers.len();
        headers[h].1 = mutate(&headers[h].1, at);
        prop_assert!(signed.verify(path, q, &headers).is_err());

        let bad = url::with_param(q, "X-Amz-Expires", "601");
        prop_assert!(signed.verify(path, &bad, &signed.headers).is_err());

        let shifted = AmzDate::new(T + Duration::seconds(1 + (at % 60) as i64));
        let bad = url::with_param(q, "X-Amz-Date", shifted.as_str());
        prop_assert!(signed.verify(path, &bad, &signed.headers).is_err());
    }
}

#[test]
fn expired_and_future_requests_are_refused_with_their_reason() {
    let signed = sign("k", &[], &[]);
    let at = |now| url::verify("PUT", &signed.url, &[], now, &signed.signer);
    assert!(at(T + Duration::seconds(600)).is_ok());
    let e = at(T + Duration::seconds(601)).unwrap_err();
    assert_eq!(
        (e.kind(), e.s3_code(), e.message()),
        (
            VerifyErrorKind::Expired,
            "AccessDenied",
            "Request has expired"
        )
    );
    assert!(at(T - Duration::minutes(15)).is_ok());
    let e = at(T - Duration::minutes(16)).unwrap_err();
    assert_eq!(e.kind(), VerifyErrorKind::NotYetValid);
    let unknown = Signer::new(
        Credentials::new("AKIDOTHER", "prop-secret"),
        "us-east-1",
        "s3",
    );
    let e = url::verify("PUT", &signed.url, &[], T, &unknown).unwrap_err();
    assert_eq!(e.s3_code(), "InvalidAccessKeyId");
}

#[test]
fn malformed_auth_parameters_are_named() {
    let signed = sign("k", &[], &[]);
    let (_, path, q) = url::split(&signed.url);
    for (name, value, needle) in [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA1", "X-Amz-Algorithm"),
        (
            "X-Amz-Credential",
            "AKIDPROP%2F20261129",
            "X-Amz-Credential",
        ),
        (
            "X-Amz-Credential",
            "AKIDPROP%2F20261128%2Fus-east-1%2Fs3%2Faws4_request",
            "X-Amz-Date",
        ),
        (
            "X-Amz-Credential",
            "AKIDPROP%2F20261129%2Feu-west-1%2Fs3%2Faws4_request",
            "region",
        ),
        ("X-Amz-Date", "2026-11-29T12:00:00Z", "ISO8601"),
        ("X-Amz-Expires", "604801", "X-Amz-Expires"),
        ("X-Amz-Expires", "-1", "X-Amz-Expires"),
        ("X-Amz-SignedHeaders", "content-type", "host"),
    ] {
        let bad = url::with_param(q, name, value);
        let e = signed.verify(path, &bad, &signed.headers).unwrap_err();
        assert_eq!(
            e.s3_code(),
            "AuthorizationQueryParametersError",
            "{name}={value}"
        );
        assert!(
            e.message().contains(needle),
            "{name}={value}: {}",
            e.message()
        );
    }
    let without_signature = q.split("&X-Amz-Signature").next().unwrap();
    let e = signed
        .verify(path, without_signature, &signed.headers)
        .unwrap_err();
    assert_eq!(e.s3_code(), "AuthorizationQueryParametersError");
}

#[test]
fn a_signed_header_missing_from_the_request_is_named() {
    let signed = sign("k", &["v".to_owned()], &[]);
    let (_, path, q) = url::split(&signed.url);
    let e = signed.verify(path, q, &[]).unwrap_err();
    assert_eq!(e.kind(), VerifyErrorKind::SignatureMismatch);
    assert!(e.message().contains("x-amz-meta-h0"));
}

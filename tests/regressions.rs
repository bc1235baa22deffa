//! One test per classic SigV4/S3 encoding bug: each key, token and endpoint
//! shape below has broken some signer somewhere. Every case checks the exact
//! URL path (RFC 3986: only `A-Za-z0-9-._~` and `/` left as they are) and
//! that our verifier accepts what we sign.

#[path = "common/url.rs"]
mod url;

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{
    verify_presigned, Credentials, Received, Signer, VerifyOptions, UNSIGNED_PAYLOAD,
};
use time::macros::datetime;

const T: time::OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

fn signer() -> Signer {
    Signer::new(
        Credentials::new("AKIDTEST", "secret/with+chars="),
        "eu-west-1",
        "s3",
    )
}

fn bucket(endpoint: &str, style: AddressingStyle) -> Bucket {
    Bucket::new(
        Endpoint::parse(endpoint).unwrap(),
        "my-bucket",
        "eu-west-1",
        style,
    )
    .unwrap()
}

/// Presigns a GET of `key`, checks the URL's path, and verifies it.
fn round_trip(signer: &Signer, bucket: &Bucket, key: &str, expected_path: &str) -> String {
    let presigned = bucket
        .presign(signer, &ObjectRequest::new("GET", key), T, 300)
        .unwrap();
    let (_, path, _) = url::split(&presigned.url);
    assert_eq!(path, expected_path, "key {key:?}");
    url::verify("GET", &presigned.url, &[], T, signer)
        .unwrap_or_else(|e| panic!("key {key:?}: {e}"));
    presigned.url
}

#[test]
fn keys_with_reserved_and_odd_characters() {
    let s = signer();
    let b = bucket("http://127.0.0.1:9000", AddressingStyle::Path);
    for (key, path) in [
        ("a+b", "/my-bucket/a%2Bb"),
        ("a=b&c", "/my-bucket/a%3Db%26c"),
        ("100%", "/my-bucket/100%25"),
        ("100%25", "/my-bucket/100%2525"),
        ("a b  c", "/my-bucket/a%20b%20%20c"),
        ("(paren)", "/my-bucket/%28paren%29"),
        ("!*'", "/my-bucket/%21%2A%27"),
        ("~tilde-._", "/my-bucket/~tilde-._"),
        ("question?hash#", "/my-bucket/question%3Fhash%23"),
        (
            "colon:semi;at@dollar$comma,",
            "/my-bucket/colon%3Asemi%3Bat%40dollar%24comma%2C",
        ),
        ("[brackets]", "/my-bucket/%5Bbrackets%5D"),
        (
            "ünïcödé/日本",
            "/my-bucket/%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC",
        ),
        ("emoji 😀.png", "/my-bucket/emoji%20%F0%9F%98%80.png"),
        ("a//b", "/my-bucket/a//b"),
        ("a/../b", "/my-bucket/a/../b"),
        ("./a", "/my-bucket/./a"),
        ("/leading", "/my-bucket//leading"),
        ("trailing/", "/my-bucket/trailing/"),
        ("literal%2Fslash", "/my-bucket/literal%252Fslash"),
    ] {
        round_trip(&s, &b, key, path);
    }
}

#[test]
fn a_literal_percent_2f_is_not_a_slash() {
    let s = signer();
    let b = bucket("http://127.0.0.1:9000", AddressingStyle::Path);
    let with_percent = round_trip(&s, &b, "a%2Fb", "/my-bucket/a%252Fb");
    let with_slash = round_trip(&s, &b, "a/b", "/my-bucket/a/b");
    assert_ne!(
        url::param(&with_percent, "X-Amz-Signature"),
        url::param(&with_slash, "X-Amz-Signature")
    );
}

#[test]
fn session_tokens_with_slash_plus_equals_are_encoded_and_signed() {
    let token = "FwoGZXIvYXdzE/+token==";
    let s = Signer::new(
        Credentials::new("ASIATEST", "secret").with_session_token(token),
        "eu-west-1",
        "s3",
    );
    let b = bucket(
        "https://s3.eu-west-1.amazonaws.com",
        AddressingStyle::VirtualHosted,
    );
    let url = round_trip(&s, &b, "k", "/k");
    assert_eq!(
        url::param(&url, "X-Amz-Security-Token"),
        "FwoGZXIvYXdzE%2F%2Btoken%3D%3D"
    );
    let (_, trace) = b
        .presign_traced(&s, &ObjectRequest::new("GET", "k"), T, 60)
        .unwrap();
    assert!(trace
        .canonical_request
        .contains("X-Amz-Security-Token=FwoGZXIvYXdzE%2F%2Btoken%3D%3D"));
}

#[test]
fn host_carries_non_default_ports_only() {
    let s = signer();
    for (endpoint, style, host) in [
        (
            "https://s3.eu-west-1.amazonaws.com:443",
            AddressingStyle::VirtualHosted,
            "my-bucket.s3.eu-west-1.amazonaws.com",
        ),
        (
            "http://minio.local:80",
            AddressingStyle::Path,
            "minio.local",
        ),
        (
            "http://minio.local:9000",
            AddressingStyle::Path,
            "minio.local:9000",
        ),
        (
            "https://minio.local:8443",
            AddressingStyle::VirtualHosted,
            "my-bucket.minio.local:8443",
        ),
        (
            "http://[::1]:9000",
            AddressingStyle::VirtualHosted,
            "[::1]:9000",
        ),
        (
            "http://[2001:db8::1]",
            AddressingStyle::Path,
            "[2001:db8::1]",
        ),
    ] {
        let b = bucket(endpoint, style);
        let url = round_trip(
            &s,
            &b,
            "k",
            if b.style() == AddressingStyle::Path {
                "/my-bucket/k"
            } else {
                "/k"
            },
        );
        assert_eq!(url::split(&url).0, host, "{endpoint}");
        let (_, trace) = b
            .presign_traced(&s, &ObjectRequest::new("GET", "k"), T, 60)
            .unwrap();
        assert!(trace
            .canonical_request
            .contains(&format!("\nhost:{host}\n")));
    }
}

#[test]
fn dotted_bucket_names_use_path_style_over_https() {
    let e = Endpoint::parse("https://s3.eu-west-1.amazonaws.com").unwrap();
    let b = Bucket::new(
        e.clone(),
        "my.dotted.bucket",
        "eu-west-1",
        AddressingStyle::VirtualHosted,
    )
    .unwrap();
    assert_eq!(b.style(), AddressingStyle::Path);
    let e = Endpoint::parse("http://s3.local:9000").unwrap();
    let b = Bucket::new(
        e,
        "my.dotted.bucket",
        "eu-west-1",
        AddressingStyle::VirtualHosted,
    )
    .unwrap();
    assert_eq!(b.style(), AddressingStyle::VirtualHosted);
    assert!(Bucket::new(
        Endpoint::aws("eu-west-1"),
        "bad/name",
        "eu-west-1",
        AddressingStyle::Path
    )
    .is_err());
}

#[test]
fn query_values_use_percent_20_and_encode_slashes() {
    let s = signer();
    let b = bucket(
        "https://s3.eu-west-1.amazonaws.com",
        AddressingStyle::VirtualHosted,
    );
    let query = [
        (
            "response-content-disposition",
            Some("attachment; filename=\"a b/c+d.png\""),
        ),
        ("uploads", None),
    ];
    let request = ObjectRequest {
        query: &query,
        ..ObjectRequest::new("GET", "k")
    };
    let (presigned, trace) = b.presign_traced(&s, &request, T, 60).unwrap();
    let (_, _, q) = url::split(&presigned.url);
    assert!(q.starts_with(
        "response-content-disposition=attachment%3B%20filename%3D%22a%20b%2Fc%2Bd.png%22&uploads&X-Amz-Algorithm="
    ));
    assert!(trace
        .canonical_request
        .contains("&response-content-disposition=attachment%3B%20filename%3D%22a%20b%2Fc%2Bd.png%22&uploads=\n"));
    url::verify("GET", &presigned.url, &[], T, &s).unwrap();
}

#[test]
fn expiry_outside_one_second_to_seven_days_is_refused() {
    let s = signer();
    let b = bucket(
        "https://s3.eu-west-1.amazonaws.com",
        AddressingStyle::VirtualHosted,
    );
    let get = ObjectRequest::new("GET", "k");
    assert!(b.presign(&s, &get, T, 0).is_err());
    assert!(b.presign(&s, &get, T, 604_801).is_err());
    assert!(b.presign(&s, &get, T, 1).is_ok());
    assert!(b.presign(&s, &get, T, 604_800).is_ok());
}

/// Found while writing the `verify_presigned_url` fuzz target (its seeds
/// now hold this URL): an `X-Amz-Date` in the last week of year 9999 made
/// the expiry overflow and the verifier panic, which in a release build
/// (panic = "abort") stops the whole server on one request.
#[test]
fn a_date_at_the_end_of_time_is_refused_without_a_panic() {
    let s = signer();
    let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDTEST%2F99991231%2Feu-west-1%2Fs3%2Faws4_request\
        &X-Amz-Date=99991231T235959Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let params = presign::sigv4::PresignedParams::parse(query).unwrap();
    assert_eq!(params.expires_at().year(), 9999);
    let headers = [("host", "my-bucket.s3.eu-west-1.amazonaws.com")];
    let received = Received {
        method: "GET",
        path: "/k",
        query,
        headers: &headers,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let e = verify_presigned(&received, T, VerifyOptions::default(), |_| Some(&s)).unwrap_err();
    assert_eq!(e.s3_code(), "AccessDenied");
}

/// `presign url --time 99991231T235959Z` panicked the same way, on the
/// signing side: the URL's end of validity is the end of year 9999.
#[test]
fn signing_at_the_end_of_time_does_not_panic() {
    let end = datetime!(9999-12-31 23:59:59 UTC);
    let b = bucket("http://127.0.0.1:9000", AddressingStyle::Path);
    let presigned = b
        .presign(&signer(), &ObjectRequest::new("GET", "k"), end, 604_800)
        .unwrap();
    assert_eq!(
        presigned.expires_at,
        datetime!(9999-12-31 23:59:59.999_999_999 UTC)
    );
}

#[test]
fn expires_at_counts_from_the_whole_second_written_in_x_amz_date() {
    let s = signer();
    let b = bucket(
        "https://s3.eu-west-1.amazonaws.com",
        AddressingStyle::VirtualHosted,
    );
    let signed_at = T + time::Duration::milliseconds(900);
    let presigned = b
        .presign(&s, &ObjectRequest::new("GET", "k"), signed_at, 60)
        .unwrap();
    assert_eq!(presigned.expires_at, T + time::Duration::seconds(60));
}

//! Browser POST uploads: the published vectors byte for byte, and the
//! verifier's answer to every way a form can be wrong.

use presign::s3::{AddressingStyle, Bucket, Endpoint, PostRequest, PresignError, PresignedPost};
use presign::sigv4::{
    base64, read_policy, verify_post, AmzDate, Condition, Credentials, PostErrorKind, PostForm,
    Signer,
};
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string("tests/vectors/post-policy/vectors.json").unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn example_signer() -> Signer {
    Signer::new(
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        "us-east-1",
        "s3",
    )
}

#[test]
fn published_vectors_byte_for_byte() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 3);
    let signer = example_signer();
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let policy = v["policy"].as_str().unwrap();
        let encoded = v["policy_base64"].as_str().unwrap();
        assert_eq!(base64::encode(policy.as_bytes()), encoded, "{name}");
        assert_eq!(
            base64::decode(encoded).unwrap(),
            policy.as_bytes(),
            "{name}"
        );
        let date = AmzDate::parse(&format!("{}T000000Z", v["date"].as_str().unwrap())).unwrap();
        assert_eq!(
            signer.post_signature(&date, encoded),
            v["signature"].as_str().unwrap(),
            "{name}"
        );
        // Each reads as a policy, whatever its spacing, line ends or `\/`.
        let read = read_policy(encoded).unwrap();
        assert!(read
            .conditions
            .contains(&Condition::starts_with("key", "user/user1/")));
    }
}

/// The form of the AWS example page, as its browser would send it.
#[test]
fn the_aws_example_form_is_accepted_until_it_expires() {
    let v = &vectors()[0];
    let fields = [
        ("key", "user/user1/${filename}"),
        ("acl", "public-read"),
        (
            "success_action_redirect",
            "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
        ),
        ("Content-Type", "image/jpeg"),
        ("x-amz-meta-uuid", "14365123651274"),
        ("x-amz-server-side-encryption", "AES256"),
        (
            "X-Amz-Credential",
            "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
        ),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Date", "20151229T000000Z"),
        ("x-amz-meta-tag", ""),
        ("Policy", v["policy_base64"].as_str().unwrap()),
        ("X-Amz-Signature", v["signature"].as_str().unwrap()),
    ];
    let signer = example_signer();
    let form = PostForm {
        bucket: "sigv4examplebucket",
        fields: &fields,
        filename: Some("photo.jpg"),
    };
    let verified = verify_post(&form, datetime!(2015-12-30 12:00 UTC), |id| {
        (id == "AKIAIOSFODNN7EXAMPLE").then_some(&signer)
    })
    .unwrap();
    assert_eq!(verified.key, "user/user1/photo.jpg");
    assert_eq!(verified.length_range, None);
    let late = verify_post(&form, datetime!(2015-12-30 12:00:01 UTC), |_| Some(&signer));
    let e = late.unwrap_err();
    assert_eq!(
        (e.kind(), e.s3_code(), e.status()),
        (PostErrorKind::PolicyDenied, "AccessDenied", 403)
    );
    assert_eq!(e.message(), "Invalid according to Policy: Policy expired.");
}

const NOW: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);

fn bucket() -> Bucket {
    Bucket::new(
        Endpoint::parse("http://127.0.0.1:8333").unwrap(),
        "examplebucket",
        "us-east-1",
        AddressingStyle::Path,
    )
    .unwrap()
}

fn signed(key: &str, fields: &[(&str, &str)], conditions: &[Condition]) -> PresignedPost {
    let request = PostRequest {
        key,
        fields,
        conditions,
    };
    bucket()
        .presign_post(&example_signer(), &request, NOW, 600)
        .unwrap()
}

/// Checks `fields` at `now`, with a 1000-byte file named `photo.png`.
fn check(
    fields: &[(String, String)],
    now: OffsetDateTime,
) -> Result<String, (PostErrorKind, String)> {
    let signer = example_signer();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let form = PostForm {
        bucket: "examplebucket",
        fields: &fields,
        filename: Some("photo.png"),
    };
    let verified = verify_post(&form, now, |id| {
        (id == "AKIAIOSFODNN7EXAMPLE").then_some(&signer)
    })
    .map_err(|e| (e.kind(), e.message().to_owned()))?;
    verified
        .check_length(1000, true)
        .map_err(|e| (e.kind(), e.message().to_owned()))?;
    Ok(verified.key)
}

fn with(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut fields = fields.to_vec();
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(field) => field.1 = value.to_owned(),
        None => fields.insert(0, (name.to_owned(), value.to_owned())),
    }
    fields
}

#[test]
fn a_signed_form_is_accepted_and_each_change_refused_with_s3s_code() {
    let post = signed(
        "user/u1/${filename}",
        &[("Content-Type", "image/png"), ("x-amz-meta-tag", "a")],
        &[
            Condition::content_length_range(1000, 1000),
            Condition::starts_with("Content-Type", "image/"),
            Condition::starts_with("x-amz-meta-tag", ""),
        ],
    );
    assert_eq!(post.url, "http://127.0.0.1:8333/examplebucket");
    let fields = post.fields.clone();
    assert_eq!(check(&fields, NOW), Ok("user/u1/photo.png".to_owned()));
    assert_eq!(
        check(&fields, NOW + Duration::seconds(600)),
        Ok("user/u1/photo.png".to_owned())
    );
    let denied = |fields: &[(String, String)]| check(fields, NOW).unwrap_err();
    let policy_denied = |message: &str| {
        (
            PostErrorKind::PolicyDenied,
            format!("Invalid according to Policy: {message}"),
        )
    };

    assert_eq!(
        check(&fields, NOW + Duration::seconds(601)).unwrap_err(),
        policy_denied("Policy expired.")
    );
    assert_eq!(
        denied(&with(&fields, "key", "user/u2/${filename}")),
        policy_denied(r#"Policy Condition failed: ["starts-with", "$key", "user/u1/"]"#)
    );
    assert_eq!(
        denied(&with(&fields, "Content-Type", "text/html")),
        policy_denied(r#"Policy Condition failed: ["starts-with", "$Content-Type", "image/"]"#)
    );
    assert_eq!(
        denied(&with(&fields, "acl", "public-read")),
        policy_denied("Extra input fields: acl")
    );
    // Ignored by design, and exempt from conditions.
    assert!(check(&with(&fields, "x-ignore-me", "1"), NOW).is_ok());
    // The signature covers the policy only; the policy binds the fields.
    assert_eq!(
        denied(&with(&fields, "x-amz-date", "20260102T030406Z")),
        policy_denied(r#"Policy Condition failed: {"x-amz-date": "20260102T030405Z"}"#)
    );
    let mut resigned = fields.clone();
    let policy = resigned.iter().position(|(n, _)| n == "policy").unwrap();
    let mut decoded = base64::decode(&resigned[policy].1).unwrap();
    decoded[20] ^= 1;
    resigned[policy].1 = base64::encode(&decoded);
    assert_eq!(denied(&resigned).0, PostErrorKind::SignatureMismatch);
    assert_eq!(
        denied(&with(&fields, "x-amz-signature", "zz")).0,
        PostErrorKind::SignatureMismatch
    );
    let other_key = with(
        &fields,
        "x-amz-credential",
        "AKIDOTHER/20260102/us-east-1/s3/aws4_request",
    );
    assert_eq!(denied(&other_key).0, PostErrorKind::UnknownAccessKey);
    for name in ["policy", "x-amz-signature", "x-amz-date", "key"] {
        let without: Vec<_> = fields.iter().filter(|(n, _)| n != name).cloned().collect();
        assert_eq!(
            denied(&without),
            (
                PostErrorKind::InvalidArgument,
                format!("Bucket POST must contain a field named '{name}'.")
            )
        );
    }
    let mut twice = fields.clone();
    twice.push(("KEY".to_owned(), "user/u1/x".to_owned()));
    assert_eq!(denied(&twice).0, PostErrorKind::InvalidArgument);
    // Field names are case-insensitive, as on S3.
    let upper: Vec<_> = fields
        .iter()
        .map(|(n, v)| (n.to_ascii_uppercase(), v.clone()))
        .collect();
    assert!(check(&upper, NOW).is_ok());
}

#[test]
fn content_length_range_is_inclusive() {
    let post = signed("k", &[], &[Condition::content_length_range(10, 20)]);
    let signer = example_signer();
    let fields: Vec<(&str, &str)> = post
        .fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let form = PostForm {
        bucket: "examplebucket",
        fields: &fields,
        filename: None,
    };
    let verified = verify_post(&form, NOW, |_| Some(&signer)).unwrap();
    assert_eq!(verified.length_range, Some((10, 20)));
    for (length, complete, expected) in [
        (9, true, Err("EntityTooSmall")),
        (10, true, Ok(())),
        (20, true, Ok(())),
        (21, true, Err("EntityTooLarge")),
        (21, false, Err("EntityTooLarge")),
        (9, false, Ok(())),
    ] {
        let got = verified.check_length(length, complete).map_err(|e| {
            assert_eq!(e.status(), 400);
            e.s3_code()
        });
        assert_eq!(got, expected, "{length} bytes, complete: {complete}");
    }
}

#[test]
fn keys_and_values_with_quotes_backslashes_controls_and_non_ascii_round_trip() {
    for key in [
        "plain.png",
        "quote\"d/back\\slash.png",
        "tab\tnew\nline\r\u{1}\u{7f}\u{8}\u{c}.png",
        "café/日本語/😀.png",
        "\u{2028}\u{2029}$%{}[],: .png",
    ] {
        let post = signed(
            key,
            &[("x-amz-meta-note", key)],
            &[Condition::eq("x-amz-meta-note", key)],
        );
        // The policy is ASCII (non-ASCII is escaped) and reads back as written.
        let encoded = &post.fields.iter().find(|(n, _)| n == "policy").unwrap().1;
        assert!(base64::decode(encoded).unwrap().is_ascii());
        assert_eq!(read_policy(encoded).unwrap(), post.policy, "{key:?}");
        assert_eq!(check(&post.fields, NOW), Ok(key.to_owned()), "{key:?}");
    }
}

#[test]
fn malformed_policies_are_invalid_policy_documents() {
    let signer = example_signer();
    let date = AmzDate::new(NOW);
    for document in [
        "not json",
        "{}",
        r#"{"expiration": "2026-01-02T03:14:05Z"}"#,
        r#"{"expiration": "tomorrow", "conditions": []}"#,
        r#"{"expiration": "2026-01-02T03:14:05Z", "conditions": {}}"#,
        r#"{"expiration": "2026-01-02T03:14:05Z", "conditions": [["eq", "key", "k"]]}"#,
        r#"{"expiration": "2026-01-02T03:14:05Z", "conditions": [["in", "$key", "k"]]}"#,
        r#"{"expiration": "2026-01-02T03:14:05Z", "conditions": [["content-length-range", 2, 1]]}"#,
        r#"{"expiration": "2026-01-02T03:14:05Z", "conditions": [["content-length-range", -1, 1]]}"#,
        r#"{"expiration": "2026-01-02T03:14:05Z", "conditions": [{"key": 1}]}"#,
    ] {
        let encoded = base64::encode(document.as_bytes());
        let signature = signer.post_signature(&date, &encoded);
        let fields = [
            ("key", "k"),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            (
                "x-amz-credential",
                "AKIAIOSFODNN7EXAMPLE/20260102/us-east-1/s3/aws4_request",
            ),
            ("x-amz-date", date.as_str()),
            ("policy", encoded.as_str()),
            ("x-amz-signature", signature.as_str()),
        ];
        let form = PostForm {
            bucket: "examplebucket",
            fields: &fields,
            filename: None,
        };
        let e = verify_post(&form, NOW, |_| Some(&signer)).unwrap_err();
        assert_eq!(
            (e.kind(), e.s3_code(), e.status()),
            (PostErrorKind::InvalidPolicy, "InvalidPolicyDocument", 400),
            "{document}"
        );
    }
}

#[test]
fn a_signer_for_another_region_or_service_is_refused() {
    let request = PostRequest {
        key: "k",
        fields: &[],
        conditions: &[],
    };
    let credentials = || Credentials::new("AKIAIOSFODNN7EXAMPLE", "secret");
    let west = Signer::new(credentials(), "eu-west-1", "s3");
    assert_eq!(
        bucket()
            .presign_post(&west, &request, NOW, 600)
            .unwrap_err(),
        PresignError::Region {
            bucket: "us-east-1".to_owned(),
            signer: "eu-west-1".to_owned()
        }
    );
    let sts = Signer::new(credentials(), "us-east-1", "sts");
    assert_eq!(
        bucket().presign_post(&sts, &request, NOW, 600).unwrap_err(),
        PresignError::Service("sts".to_owned())
    );
    let own = bucket().signer(credentials());
    assert!(bucket().presign_post(&own, &request, NOW, 600).is_ok());
}

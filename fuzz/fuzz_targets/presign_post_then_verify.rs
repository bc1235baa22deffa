//! Whatever the key, fields, conditions, credentials, time and bucket, a
//! POST form we sign, sent as a browser sends it, is read back by the form
//! reader and accepted by the verifier, from its signing time to its last
//! second, for a file of any size its `content-length-range` allows; and
//! refused one second later.
//!
//! What the signer refuses, and exactly that: an expiry out of range
//! (`PresignError::Expiry`) or a `/` in the access key id or region
//! (`PresignError::Scope`). Inputs a browser could not send or S3 would
//! never accept are shaped rather than skipped: field names are kept to
//! token characters and must not be a name the signature sets, values and
//! the file name must not hold the boundary, and `${filename}` counts only
//! at the end of the key (S3 expands it anywhere, so an `eq` condition on
//! such a key can never hold, there as here).

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use presign::s3::{
    AddressingStyle, Bucket, Endpoint, FormEvent, FormReader, PostRequest, PresignError,
    FILENAME_PLACEHOLDER,
};
use presign::sigv4::{verify_post, Condition, Credentials, PostForm, Signer, MAX_EXPIRES};
use time::{Duration, OffsetDateTime};

/// 9999-12-31T23:59:59Z, the last second `time` (without `large-dates`) has.
const LAST_SECOND: i64 = 253_402_300_799;
const BOUNDARY: &str = "fuzzBoundary";

#[derive(Debug, Arbitrary)]
struct Input {
    key: String,
    /// Up to eight, each with an `eq` (or, when `prefix`, a `starts-with`
    /// on its first characters) condition.
    fields: Vec<(String, String, bool)>,
    range: Option<(u32, u32)>,
    access_key_id: String,
    secret: String,
    region: String,
    session_token: Option<String>,
    virtual_hosted: bool,
    expires: u32,
    unix_seconds: i64,
    filename: String,
    /// Where in the allowed range the file's size falls.
    size: u32,
    chunk: u8,
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["key", "policy", "file", "bucket"].contains(&lower.as_str()) || lower.starts_with("x-amz-")
}

/// `text` with every `part` removed, including those the removal makes.
fn without(text: &str, part: &str) -> String {
    let mut text = text.to_owned();
    while text.contains(part) {
        text = text.replace(part, "");
    }
    text
}

/// What a form field can hold here: no line ends, no boundary.
fn clean(text: &str) -> String {
    without(&text.replace(['\r', '\n'], ""), BOUNDARY)
}

fuzz_target!(|input: Input| check(&input));

fn check(input: &Input) {
    let key = clean(&input.key);
    let (key, expands) = match key.strip_suffix(FILENAME_PLACEHOLDER) {
        Some(stem) => (without(stem, FILENAME_PLACEHOLDER), true),
        None => (without(&key, FILENAME_PLACEHOLDER), false),
    };
    let key = if expands {
        format!("{key}{FILENAME_PLACEHOLDER}")
    } else {
        key
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut conditions = Vec::new();
    for (name, value, prefix) in input.fields.iter().take(8) {
        let name: String = name
            .bytes()
            .filter(|&b| is_token(b))
            .map(char::from)
            .collect();
        if name.is_empty()
            || reserved(&name)
            || fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            continue;
        }
        let value = clean(value);
        conditions.push(if *prefix {
            let cut = value
                .char_indices()
                .nth(value.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            Condition::starts_with(name.as_str(), &value[..cut])
        } else {
            Condition::eq(name.as_str(), value.as_str())
        });
        fields.push((name, value));
    }
    let (min, max) = match input.range {
        Some((a, b)) => (u64::from(a.min(b)) % 4096, u64::from(a.max(b)) % 4096),
        None => (0, 4095),
    };
    let (min, max) = (min.min(max), min.max(max));
    if input.range.is_some() {
        conditions.push(Condition::content_length_range(min, max));
    }
    let (access_key_id, region) = (clean(&input.access_key_id), clean(&input.region));
    let mut credentials = Credentials::new(access_key_id.as_str(), input.secret.as_str());
    if let Some(token) = &input.session_token {
        credentials = credentials.with_session_token(clean(token));
    }
    let signer = Signer::new(credentials, region.as_str(), "s3");
    let style = if input.virtual_hosted {
        AddressingStyle::VirtualHosted
    } else {
        AddressingStyle::Path
    };
    let bucket = Bucket::new(
        Endpoint::parse("http://s3.example.com:8080/base").expect("a valid endpoint"),
        "my-bucket",
        region.as_str(),
        style,
    )
    .expect("a valid bucket");
    let signed_at =
        OffsetDateTime::from_unix_timestamp(input.unix_seconds.rem_euclid(LAST_SECOND + 1))
            .expect("a time within years 1970 to 9999");
    let field_refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = PostRequest {
        key: &key,
        fields: &field_refs,
        conditions: &conditions,
    };
    let signed = bucket.presign_post(&signer, &request, signed_at, input.expires);
    if !(1..=MAX_EXPIRES).contains(&input.expires) {
        assert!(matches!(signed, Err(PresignError::Expiry(_))));
        return;
    }
    if access_key_id.contains('/') || region.contains('/') {
        assert!(matches!(signed, Err(PresignError::Scope(_))));
        return;
    }
    let post = signed.expect("a valid form");

    // The body a browser sends: the fields in order, then the file.
    let filename = clean(&input.filename).replace(['"', '\\'], "");
    let size = min + u64::from(input.size) % (max - min + 1);
    let mut body = Vec::new();
    for (name, value) in &post.fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\r\n").as_bytes(),
    );
    body.extend(std::iter::repeat(b'x').take(size as usize));
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());

    let mut reader = FormReader::new(&format!("multipart/form-data; boundary={BOUNDARY}"))
        .expect("our boundary");
    let mut events = Vec::new();
    for chunk in body.chunks(usize::from(input.chunk) + 1) {
        if let Err(e) = reader.push(chunk, &mut events) {
            // Only the 20 KB limit on the fields may stop a form we built.
            assert_eq!(e, presign::s3::FormError::FieldsTooLarge);
            return;
        }
    }
    reader.finish().expect("a complete form");
    let mut received = Vec::new();
    let mut sent_filename = None;
    let mut length = 0u64;
    for event in &events {
        match event {
            FormEvent::Field { name, value } => received.push((name.as_str(), value.as_str())),
            FormEvent::File { filename, .. } => sent_filename = filename.as_deref(),
            FormEvent::Data(data) => length += data.len() as u64,
            FormEvent::End => {}
        }
    }
    let sent: Vec<(&str, &str)> = post
        .fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(received, sent);
    assert_eq!(length, size);
    let form = PostForm {
        bucket: "my-bucket",
        fields: &received,
        filename: sent_filename,
    };
    let expected_key = key.replace(FILENAME_PLACEHOLDER, &filename);
    for now in [signed_at, post.expires_at] {
        let verified = verify_post(&form, now, |_| Some(&signer))
            .unwrap_or_else(|e| panic!("{e}\nfields: {sent:?}\npolicy: {}", post.policy.to_json()));
        assert_eq!(verified.key, expected_key);
        verified
            .check_length(length, true)
            .expect("a size within the range");
    }
    if let Some(later) = post.expires_at.checked_add(Duration::seconds(1)) {
        assert!(verify_post(&form, later, |_| Some(&signer)).is_err());
    }
}

//! Browser-based POST uploads, the checking side: a received form against
//! its policy, the way S3 checks it.
//!
//! In order: the signature's fields are present and well formed, the
//! access key is known, the signature (over the `policy` field as sent) is
//! right, in constant time; then the policy is read, its expiry checked,
//! each condition checked, and every form field must be named by a
//! condition. The file's size is checked last, against
//! `content-length-range`, by [`VerifiedPost::check_length`], once the
//! file has arrived (or as soon as it is too large).

use super::amz_date::AmzDate;
use super::base64;
use super::constants::ALGORITHM;
use super::json::{self, Value};
use super::post_policy::{Condition, PostPolicy};
use super::sign::Signer;
use hmac::Mac;
use std::fmt;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// Which check failed; each maps to an S3 error code and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostErrorKind {
    /// A missing, repeated or malformed field of the signature, or no
    /// `key`: `InvalidArgument`, 400.
    InvalidArgument,
    /// The policy is not base64 of a JSON policy: `InvalidPolicyDocument`, 400.
    InvalidPolicy,
    /// No secret is known for the access key: `InvalidAccessKeyId`, 403.
    UnknownAccessKey,
    /// The policy was not signed with this key: `SignatureDoesNotMatch`, 403.
    SignatureMismatch,
    /// Expired, a condition failed, or a field has no condition:
    /// `AccessDenied`, 403, "Invalid according to Policy: …".
    PolicyDenied,
    /// More bytes than `content-length-range` allows: `EntityTooLarge`, 400.
    TooLarge,
    /// Fewer bytes than `content-length-range` asks: `EntityTooSmall`, 400.
    TooSmall,
}

/// Why a POST upload was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError {
    kind: PostErrorKind,
    message: String,
}

impl PostError {
    fn new(kind: PostErrorKind, message: impl Into<String>) -> Self {
        PostError {
            kind,
            message: message.into(),
        }
    }

    fn denied(reason: impl fmt::Display) -> Self {
        Self::new(
            PostErrorKind::PolicyDenied,
            format!("Invalid according to Policy: {reason}"),
        )
    }

    /// Which check failed.
    pub fn kind(&self) -> PostErrorKind {
        self.kind
    }

    /// The S3 error code.
    pub fn s3_code(&self) -> &'static str {
        match self.kind {
            PostErrorKind::InvalidArgument => "InvalidArgument",
            PostErrorKind::InvalidPolicy => "InvalidPolicyDocument",
            PostErrorKind::UnknownAccessKey => "InvalidAccessKeyId",
            PostErrorKind::SignatureMismatch => "SignatureDoesNotMatch",
            PostErrorKind::PolicyDenied => "AccessDenied",
            PostErrorKind::TooLarge => "EntityTooLarge",
            PostErrorKind::TooSmall => "EntityTooSmall",
        }
    }

    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self.kind {
            PostErrorKind::UnknownAccessKey
            | PostErrorKind::SignatureMismatch
            | PostErrorKind::PolicyDenied => 403,
            _ => 400,
        }
    }

    /// A sentence for the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.s3_code(), self.message)
    }
}

impl std::error::Error for PostError {}

/// A received POST form, without the file's bytes.
#[derive(Debug, Clone, Copy)]
pub struct PostForm<'a> {
    /// The bucket the form was posted to (from the URL).
    pub bucket: &'a str,
    /// The text fields before the file, in order, names as sent.
    pub fields: &'a [(&'a str, &'a str)],
    /// The file part's `filename`, which replaces `${filename}` in `key`.
    pub filename: Option<&'a str>,
}

impl PostForm<'_> {
    /// The value of field `name` (any case); an error if given twice.
    fn field(&self, name: &str) -> Result<Option<&str>, PostError> {
        let mut found = self
            .fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let first = found.next().map(|(_, v)| *v);
        if found.next().is_some() {
            return Err(PostError::new(
                PostErrorKind::InvalidArgument,
                format!("The form field '{name}' is given more than once."),
            ));
        }
        Ok(first)
    }

    fn required(&self, name: &str) -> Result<&str, PostError> {
        self.field(name)?.ok_or_else(|| {
            PostError::new(
                PostErrorKind::InvalidArgument,
                format!("Bucket POST must contain a field named '{name}'."),
            )
        })
    }
}

/// What a form that passed was signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPost {
    /// Who signed the policy.
    pub access_key_id: String,
    /// The object key, `${filename}` replaced.
    pub key: String,
    /// The policy's `content-length-range`, if it has one.
    pub length_range: Option<(u64, u64)>,
    /// When the policy expires.
    pub expiration: OffsetDateTime,
}

impl VerifiedPost {
    /// Checks a file size (or, while streaming, the bytes so far against
    /// the maximum only) against `content-length-range`.
    pub fn check_length(&self, length: u64, complete: bool) -> Result<(), PostError> {
        let Some((min, max)) = self.length_range else {
            return Ok(());
        };
        if length > max {
            return Err(PostError::new(
                PostErrorKind::TooLarge,
                "Your proposed upload exceeds the maximum allowed object size.",
            ));
        }
        if complete && length < min {
            return Err(PostError::new(
                PostErrorKind::TooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            ));
        }
        Ok(())
    }
}

/// Checks `form` at `now`. `signer_for` looks up the signer (so the
/// secret, region and service) of the form's access key id.
pub fn verify_post<'s>(
    form: &PostForm<'_>,
    now: OffsetDateTime,
    signer_for: impl FnOnce(&str) -> Option<&'s Signer>,
) -> Result<VerifiedPost, PostError> {
    let invalid = |message: String| PostError::new(PostErrorKind::InvalidArgument, message);
    let encoded = form.required("policy")?;
    let algorithm = form.required("x-amz-algorithm")?;
    let credential = form.required("x-amz-credential")?;
    let date = form.required("x-amz-date")?;
    let signature = form.required("x-amz-signature")?;
    if algorithm != ALGORITHM {
        return Err(invalid(format!(
            "x-amz-algorithm only supports \"{ALGORITHM}\"."
        )));
    }
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, scope_date, region, service, "aws4_request"] = parts[..] else {
        return Err(invalid(
            "x-amz-credential must be <access key id>/<YYYYMMDD>/<region>/s3/aws4_request."
                .to_owned(),
        ));
    };
    let date = AmzDate::parse(date).ok_or_else(|| {
        invalid("x-amz-date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".".into())
    })?;
    if scope_date != date.date() {
        return Err(invalid(
            "The date in x-amz-credential is not the date of x-amz-date.".to_owned(),
        ));
    }
    let signer = signer_for(access_key_id).ok_or_else(|| {
        PostError::new(
            PostErrorKind::UnknownAccessKey,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    })?;
    if region != signer.region() || service != signer.service() {
        return Err(invalid(format!(
            "x-amz-credential is scoped to '{region}/{service}'; expecting '{}/{}'.",
            signer.region(),
            signer.service()
        )));
    }
    let mut mac = signer.mac(&date);
    mac.update(encoded.as_bytes());
    let signed = hex::decode(signature).is_ok_and(|given| mac.verify_slice(&given).is_ok());
    if !signed {
        return Err(PostError::new(
            PostErrorKind::SignatureMismatch,
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        ));
    }
    let policy = read_policy(encoded)?;
    if now > policy.expiration {
        return Err(PostError::denied("Policy expired."));
    }
    let key = form
        .required("key")?
        .replace("${filename}", form.filename.unwrap_or_default());
    let value_of = |field: &str| -> Result<String, PostError> {
        Ok(if field.eq_ignore_ascii_case("bucket") {
            form.bucket.to_owned()
        } else if field.eq_ignore_ascii_case("key") {
            key.clone()
        } else {
            form.field(field)?.unwrap_or_default().to_owned()
        })
    };
    let mut length_range = None;
    for condition in &policy.conditions {
        let holds = match condition {
            Condition::Eq { field, value } => value_of(field)? == *value,
            Condition::StartsWith { field, prefix } => {
                value_of(field)?.starts_with(prefix.as_str())
            }
            Condition::ContentLengthRange { min, max } => {
                length_range = Some((*min, *max));
                true
            }
        };
        if !holds {
            return Err(PostError::denied(format_args!(
                "Policy Condition failed: {}",
                condition.to_json()
            )));
        }
    }
    let extra: Vec<&str> = form
        .fields
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !exempt(name))
        .filter(|name| {
            !policy
                .conditions
                .iter()
                .any(|c| c.field().is_some_and(|f| f.eq_ignore_ascii_case(name)))
        })
        .collect();
    if !extra.is_empty() {
        return Err(PostError::denied(format_args!(
            "Extra input fields: {}",
            extra.join(", ")
        )));
    }
    Ok(VerifiedPost {
        access_key_id: access_key_id.to_owned(),
        key,
        length_range,
        expiration: policy.expiration,
    })
}

/// Fields that need no condition (S3's list; `x-ignore-*` by design).
fn exempt(name: &str) -> bool {
    ["policy", "x-amz-signature", "file"]
        .iter()
        .any(|e| e.eq_ignore_ascii_case(name))
        || name
            .get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-ignore-"))
}

/// The policy of a `policy` field: base64 of UTF-8 JSON.
pub fn read_policy(encoded: &str) -> Result<PostPolicy, PostError> {
    let invalid = |why: &str| {
        PostError::new(
            PostErrorKind::InvalidPolicy,
            format!("Invalid Policy: {why}"),
        )
    };
    let bytes = base64::decode(encoded).ok_or_else(|| invalid("the policy is not base64."))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid("the policy is not UTF-8."))?;
    let document = json::parse(text).map_err(|e| invalid(&format!("{e}.")))?;
    let expiration = document
        .get("expiration")
        .ok_or_else(|| invalid("Policy missing expiration."))?
        .as_str()
        .and_then(parse_expiration)
        .ok_or_else(|| invalid("Invalid 'expiration' value: use 2026-01-02T03:04:05Z."))?;
    let conditions = document
        .get("conditions")
        .ok_or_else(|| invalid("Policy missing conditions."))?
        .as_array()
        .ok_or_else(|| invalid("'conditions' is not an array."))?;
    let mut read = Vec::with_capacity(conditions.len());
    for condition in conditions {
        read_condition(condition, &mut read).map_err(invalid)?;
    }
    Ok(PostPolicy {
        expiration,
        conditions: read,
    })
}

fn read_condition(condition: &Value, out: &mut Vec<Condition>) -> Result<(), &'static str> {
    if let Some(members) = condition.as_object() {
        if members.is_empty() {
            return Err("a condition is an empty object.");
        }
        for (field, value) in members {
            let value = value
                .as_str()
                .ok_or("a condition's value is not a string.")?;
            out.push(Condition::eq(field.as_str(), value));
        }
        return Ok(());
    }
    let items = condition
        .as_array()
        .ok_or("a condition is neither an object nor an array.")?;
    let [operation, first, second] = items else {
        return Err("a condition array does not have three elements.");
    };
    let operation = operation
        .as_str()
        .ok_or("a condition's operation is not a string.")?;
    if operation.eq_ignore_ascii_case("content-length-range") {
        let bound = |v: &Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        };
        let (Some(min), Some(max)) = (bound(first), bound(second)) else {
            return Err("content-length-range bounds are not whole numbers.");
        };
        if min > max {
            return Err("content-length-range's minimum is above its maximum.");
        }
        out.push(Condition::content_length_range(min, max));
        return Ok(());
    }
    let field = first
        .as_str()
        .and_then(|f| f.strip_prefix('$'))
        .ok_or("a condition's field is not a string starting with '$'.")?;
    let value = second
        .as_str()
        .ok_or("a condition's value is not a string.")?;
    out.push(if operation.eq_ignore_ascii_case("eq") {
        Condition::eq(field, value)
    } else if operation.eq_ignore_ascii_case("starts-with") {
        Condition::starts_with(field, value)
    } else {
        return Err("a condition's operation is not eq, starts-with or content-length-range.");
    });
    Ok(())
}

/// `2026-01-02T03:04:05Z`, with or without fractional seconds (AWS's own
/// examples write `.000Z`).
fn parse_expiration(text: &str) -> Option<OffsetDateTime> {
    let b = text.as_bytes();
    let rest = text.get(19..)?;
    let fraction_ok = match rest.strip_suffix('Z')? {
        "" => true,
        f => f.strip_prefix('.').is_some_and(|d| {
            !d.is_empty() && d.len() <= 9 && d.bytes().all(|c| c.is_ascii_digit())
        }),
    };
    if !fraction_ok
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let month = Month::try_from(num(5..7)? as u8).ok()?;
    let date = Date::from_calendar_date(num(0..4)? as i32, month, num(8..10)? as u8).ok()?;
    let clock = Time::from_hms(num(11..13)? as u8, num(14..16)? as u8, num(17..19)? as u8).ok()?;
    // A fraction is dropped: the policy ends at most a second early.
    Some(PrimitiveDateTime::new(date, clock).assume_utc())
}

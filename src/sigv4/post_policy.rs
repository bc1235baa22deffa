//! Browser-based POST uploads, the signing side: a POST policy (an expiry
//! and conditions on the form's fields), its base64 form, and its SigV4
//! signature.
//!
//! S3's rules (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>):
//! the policy is UTF-8 JSON, `{"expiration": …, "conditions": […]}`; its
//! base64 form is both the `policy` field and the string to sign; the
//! signature is the hex HMAC-SHA256 of that string under the day's SigV4
//! signing key. Every form field but `policy`, `x-amz-signature`, `file`
//! and `x-ignore-*` needs a condition.
//!
//! The JSON is written the way botocore's `generate_presigned_post` writes
//! it (Python's `json.dumps`: `", "` and `": "` separators, non-ASCII as
//! `\uXXXX`), so the two agree byte for byte.

use super::amz_date::AmzDate;
use super::base64;
use super::constants::ALGORITHM;
use super::sign::{expiry, Signer};
use hmac::Mac;
use time::OffsetDateTime;

/// One condition of a POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The field must have exactly this value: `{"acl": "public-read"}`.
    Eq {
        /// The form field's name (compared without regard to case).
        field: String,
        /// Its only accepted value.
        value: String,
    },
    /// The field must start with `prefix`; an empty prefix accepts any
    /// value: `["starts-with", "$key", "user/"]`.
    StartsWith {
        /// The form field's name, without the `$`.
        field: String,
        /// What its value must start with.
        prefix: String,
    },
    /// The file's size in bytes must be within `min..=max`:
    /// `["content-length-range", 1, 10485760]`.
    ContentLengthRange {
        /// The fewest bytes accepted.
        min: u64,
        /// The most bytes accepted.
        max: u64,
    },
}

impl Condition {
    /// `{"field": "value"}`.
    pub fn eq(field: impl Into<String>, value: impl Into<String>) -> Self {
        Condition::Eq {
            field: field.into(),
            value: value.into(),
        }
    }

    /// `["starts-with", "$field", "prefix"]`.
    pub fn starts_with(field: impl Into<String>, prefix: impl Into<String>) -> Self {
        Condition::StartsWith {
            field: field.into(),
            prefix: prefix.into(),
        }
    }

    /// `["content-length-range", min, max]`.
    pub fn content_length_range(min: u64, max: u64) -> Self {
        Condition::ContentLengthRange { min, max }
    }

    /// The condition as it is written in a policy, and in error messages.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Condition::Eq { field, value } => {
                out.push('{');
                write_string(out, field);
                out.push_str(": ");
                write_string(out, value);
                out.push('}');
            }
            Condition::StartsWith { field, prefix } => {
                out.push_str("[\"starts-with\", ");
                write_string(out, &format!("${field}"));
                out.push_str(", ");
                write_string(out, prefix);
                out.push(']');
            }
            Condition::ContentLengthRange { min, max } => {
                out.push_str(&format!("[\"content-length-range\", {min}, {max}]"));
            }
        }
    }

    /// The field this condition is on, if any (lower case is not implied).
    pub fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => Some(field),
            Condition::ContentLengthRange { .. } => None,
        }
    }
}

/// A POST policy: when it expires and what the form must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    /// The last instant a form signed with it is accepted.
    pub expiration: OffsetDateTime,
    /// The conditions, in the order they are written.
    pub conditions: Vec<Condition>,
}

impl PostPolicy {
    /// The policy's JSON text, as botocore writes it: `expiration` in whole
    /// seconds (`2026-01-02T03:14:05Z`).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 64 * self.conditions.len());
        out.push_str("{\"expiration\": \"");
        out.push_str(&iso8601(self.expiration));
        out.push_str("\", \"conditions\": [");
        for (i, condition) in self.conditions.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            condition.write_json(&mut out);
        }
        out.push_str("]}");
        out
    }

    /// The `policy` field: the JSON text in base64, which is also the
    /// string to sign.
    pub fn to_base64(&self) -> String {
        base64::encode(self.to_json().as_bytes())
    }
}

/// The form fields a signed POST policy adds, in the order botocore (and
/// S3's examples) put them: `x-amz-algorithm`, `x-amz-credential`,
/// `x-amz-date`, `x-amz-security-token` (temporary credentials only),
/// `policy`, `x-amz-signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPolicy {
    /// The policy as signed, with the authentication conditions appended.
    pub policy: PostPolicy,
    /// `(name, value)` pairs, lower-case names.
    pub fields: Vec<(String, String)>,
}

impl Signer {
    /// Signs `conditions` at `time` for `expires` seconds: appends the
    /// conditions on `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`
    /// (and `x-amz-security-token`), then signs the policy's base64 form.
    /// The expiry is not limited to 7 days: S3 documents no limit for
    /// POST policies.
    pub fn sign_post_policy(
        &self,
        conditions: Vec<Condition>,
        time: OffsetDateTime,
        expires: u32,
    ) -> SignedPolicy {
        let date = AmzDate::new(time);
        let credential = format!(
            "{}/{}",
            self.credentials().access_key_id(),
            self.scope(&date)
        );
        let mut auth = vec![
            ("x-amz-algorithm", ALGORITHM.to_owned()),
            ("x-amz-credential", credential),
            ("x-amz-date", date.as_str().to_owned()),
        ];
        if let Some(token) = self.credentials().session_token() {
            auth.push(("x-amz-security-token", token.to_owned()));
        }
        let mut policy = PostPolicy {
            // Whole seconds, as written; `expiry` saturates at the end of 9999.
            expiration: expiry(date.time(), expires)
                .replace_nanosecond(0)
                .unwrap_or_else(|_| date.time()),
            conditions,
        };
        policy
            .conditions
            .extend(auth.iter().map(|(name, value)| Condition::eq(*name, value)));
        let encoded = policy.to_base64();
        let signature = self.post_signature(&date, &encoded);
        let mut fields: Vec<(String, String)> = auth
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        fields.push(("policy".to_owned(), encoded));
        fields.push(("x-amz-signature".to_owned(), signature));
        SignedPolicy { policy, fields }
    }

    /// The hex signature of a base64 policy, with the signing key of
    /// `date`'s day.
    pub fn post_signature(&self, date: &AmzDate, policy_base64: &str) -> String {
        hex::encode(self.post_mac(date, policy_base64))
    }

    pub(crate) fn post_mac(&self, date: &AmzDate, policy_base64: &str) -> [u8; 32] {
        let mut mac = self.mac(date);
        mac.update(policy_base64.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// `2026-01-02T03:14:05Z`.
pub(crate) fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A JSON string literal as Python's `json.dumps` writes it: `"` and `\`
/// escaped, control characters and everything outside ASCII as `\uXXXX`
/// (UTF-16 surrogate pairs above U+FFFF), so the policy is plain ASCII.
/// Not `json::write_string`, which keeps non-ASCII as it is: botocore's
/// policies, and so their signatures, have it escaped.
fn write_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::Credentials;
    use time::macros::datetime;

    fn signer(token: Option<&str>) -> Signer {
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        );
        let credentials = match token {
            Some(token) => credentials.with_session_token(token),
            None => credentials,
        };
        Signer::new(credentials, "us-east-1", "s3")
    }

    #[test]
    fn strings_are_written_like_python_json_dumps() {
        let mut out = String::new();
        write_string(&mut out, "a\"b\\c\n\u{1}é😀/");
        assert_eq!(out, r#""a\"b\\c\n\u0001\u00e9\ud83d\ude00/""#);
    }

    #[test]
    fn signs_like_botocore_generate_presigned_post() {
        // botocore 1.43.11, clock frozen at 2026-01-02T03:04:05Z (P1 in the
        // project's research notes; regenerated by tests/botocore.rs).
        let signed = signer(None).sign_post_policy(
            vec![
                Condition::content_length_range(1, 10_485_760),
                Condition::eq("Content-Type", "image/png"),
                Condition::eq("success_action_status", "201"),
                Condition::eq("bucket", "examplebucket"),
                Condition::eq("key", "uploads/photo.png"),
            ],
            datetime!(2026-01-02 03:04:05 UTC),
            600,
        );
        let field = |name: &str| {
            signed
                .fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            field("policy"),
            Some(
                "eyJleHBpcmF0aW9uIjogIjIwMjYtMDEtMDJUMDM6MTQ6MDVaIiwgImNvbmRpdGlvbnMiOiBbWyJjb250ZW50LWxlbmd0aC1yYW5nZSIsIDEsIDEwNDg1NzYwXSwgeyJDb250ZW50LVR5cGUiOiAiaW1hZ2UvcG5nIn0sIHsic3VjY2Vzc19hY3Rpb25fc3RhdHVzIjogIjIwMSJ9LCB7ImJ1Y2tldCI6ICJleGFtcGxlYnVja2V0In0sIHsia2V5IjogInVwbG9hZHMvcGhvdG8ucG5nIn0sIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwgeyJ4LWFtei1jcmVkZW50aWFsIjogIkFLSUFJT1NGT0ROTjdFWEFNUExFLzIwMjYwMTAyL3VzLWVhc3QtMS9zMy9hd3M0X3JlcXVlc3QifSwgeyJ4LWFtei1kYXRlIjogIjIwMjYwMTAyVDAzMDQwNVoifV19"
            )
        );
        assert_eq!(
            field("x-amz-signature"),
            Some("f6467b37202e43612c42f1320b4d532b26da6e9c347a8855a1b161a2ad75d941")
        );
        let names: Vec<&str> = signed.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "x-amz-algorithm",
                "x-amz-credential",
                "x-amz-date",
                "policy",
                "x-amz-signature"
            ]
        );
    }

    #[test]
    fn a_session_token_is_a_field_and_a_condition() {
        // P2 of the research notes: botocore with session token EXAMPLETOKEN.
        let signed = signer(Some("EXAMPLETOKEN")).sign_post_policy(
            vec![
                Condition::eq("bucket", "examplebucket"),
                Condition::starts_with("key", "user/u1/"),
            ],
            datetime!(2026-01-02 03:04:05 UTC),
            3600,
        );
        assert_eq!(
            signed.fields[3],
            ("x-amz-security-token".into(), "EXAMPLETOKEN".into())
        );
        assert_eq!(
            signed.fields[4].1,
            "eyJleHBpcmF0aW9uIjogIjIwMjYtMDEtMDJUMDQ6MDQ6MDVaIiwgImNvbmRpdGlvbnMiOiBbeyJidWNrZXQiOiAiZXhhbXBsZWJ1Y2tldCJ9LCBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91MS8iXSwgeyJ4LWFtei1hbGdvcml0aG0iOiAiQVdTNC1ITUFDLVNIQTI1NiJ9LCB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAyNjAxMDIvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LCB7IngtYW16LWRhdGUiOiAiMjAyNjAxMDJUMDMwNDA1WiJ9LCB7IngtYW16LXNlY3VyaXR5LXRva2VuIjogIkVYQU1QTEVUT0tFTiJ9XX0="
        );
        assert_eq!(
            signed.fields[5].1,
            "f497833ecc19033e03c1da2bca7a1ea146f36315b786d6e232716155a76c93d4"
        );
    }
}

//! Browser POST uploads: a form URL and the fields a page puts in its
//! `<form>`, signed with a POST policy ([`crate::sigv4::post_policy`]).
//!
//! S3 reference: <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-UsingHTTPPOST.html>.
//! Not every S3-compatible store takes POST uploads: AWS, MinIO and
//! SeaweedFS do; Cloudflare R2 and Backblaze B2 do not.

use super::bucket::{Bucket, PresignError};
use crate::sigv4::json;
use crate::sigv4::post_policy::iso8601;
use crate::sigv4::{Condition, InvalidExpiry, PostPolicy, Signer};
use time::OffsetDateTime;

/// The placeholder S3 replaces with the uploaded file's name in `key`.
pub const FILENAME_PLACEHOLDER: &str = "${filename}";

/// A POST upload to presign, as botocore's `generate_presigned_post` takes
/// it: fields and conditions are separate lists, neither filled from the
/// other (a field without a condition is refused by S3).
#[derive(Debug, Clone, Copy)]
pub struct PostRequest<'a> {
    /// The object key. One ending in `${filename}` is signed as
    /// `["starts-with", "$key", <the part before>]`.
    pub key: &'a str,
    /// Form fields the page sends besides `key` and the signature's own
    /// (`Content-Type`, `success_action_status`, `x-amz-meta-*`, …).
    pub fields: &'a [(&'a str, &'a str)],
    /// The policy's conditions besides those on `bucket`, `key` and the
    /// signature's fields.
    pub conditions: &'a [Condition],
}

/// A signed POST form: where to send it and what to put in it.
#[derive(Debug, Clone)]
pub struct PresignedPost {
    /// The form's `action`: the bucket's URL.
    pub url: String,
    /// The fields in the order to send them: the request's fields, `key`,
    /// `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`,
    /// (`x-amz-security-token`), `policy`, `x-amz-signature`. The file
    /// goes after all of them: S3 ignores what follows it.
    pub fields: Vec<(String, String)>,
    /// The policy as signed.
    pub policy: PostPolicy,
    /// The end of the policy's validity.
    pub expires_at: OffsetDateTime,
}

impl Bucket {
    /// Presigns a POST upload at `time` for `expires` seconds (1..=604800).
    ///
    /// # Errors
    ///
    /// [`PresignError::Expiry`] for an expiry out of range,
    /// [`PresignError::Scope`] for a `/` in the access key id or region,
    /// [`PresignError::Region`] or [`PresignError::Service`] for a signer
    /// of another region than the bucket's or another service than `s3`.
    pub fn presign_post(
        &self,
        signer: &Signer,
        request: &PostRequest<'_>,
        time: OffsetDateTime,
        expires: u32,
    ) -> Result<PresignedPost, PresignError> {
        InvalidExpiry::check(expires)?;
        self.check_signer(signer)?;
        let mut conditions = request.conditions.to_vec();
        conditions.push(Condition::eq("bucket", self.name()));
        conditions.push(match request.key.strip_suffix(FILENAME_PLACEHOLDER) {
            Some(prefix) => Condition::starts_with("key", prefix),
            None => Condition::eq("key", request.key),
        });
        let signed = signer.sign_post_policy(conditions, time, expires);
        let mut fields: Vec<(String, String)> = request
            .fields
            .iter()
            .map(|&(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        fields.push(("key".to_owned(), request.key.to_owned()));
        fields.extend(signed.fields);
        Ok(PresignedPost {
            expires_at: signed.policy.expiration,
            url: format!("{}{}", self.origin(), self.path("")),
            fields,
            policy: signed.policy,
        })
    }
}

impl PresignedPost {
    /// `{"url": …, "fields": {…}, "expiresAt": "2026-01-02T03:14:05Z"}`,
    /// fields in their order.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256 + self.url.len() + 64 * self.fields.len());
        out.push_str("{\"url\":");
        json::write_string(&mut out, &self.url);
        out.push_str(",\"fields\":{");
        for (i, (name, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::write_string(&mut out, name);
            out.push(':');
            json::write_string(&mut out, value);
        }
        out.push_str("},\"expiresAt\":\"");
        out.push_str(&iso8601(self.expires_at));
        out.push_str("\"}");
        out
    }
}

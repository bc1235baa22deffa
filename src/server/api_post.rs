//! `POST /api/uploads` with `method=post`: a signed browser POST form
//! instead of a presigned PUT, for clients that prefer forms (an HTML form
//! with no JavaScript, or stores' POST-only tooling).
//!
//! The form allows what the PUT allows: this key, this type, exactly the
//! declared size (`content-length-range` from `size` to `size`), and asks
//! for S3's `201` XML answer.

use super::api::{upload_created, view_url};
use super::api_error::ApiError;
use super::http::Body;
use super::state::State;
use crate::s3::PostRequest;
use crate::sigv4::Condition;
use hyper::Response;
use time::OffsetDateTime;

/// The `201` answer: `{"key", "method": "POST", "url", "fields",
/// "expiresAt", "viewUrl"}`, fields in the order the form must send them
/// (the file goes last).
pub fn presign(
    state: &State,
    host: Option<&str>,
    content_type: &str,
    size: u64,
) -> Result<Response<Body>, ApiError> {
    let bucket = state.bucket(host).ok_or(ApiError::NoHost)?;
    let policy = &state.config.policy;
    let now = OffsetDateTime::now_utc();
    let key = state.keys.key(policy, content_type, now);
    let fields = [
        ("Content-Type", content_type),
        ("success_action_status", "201"),
    ];
    let conditions = [
        Condition::eq("Content-Type", content_type),
        Condition::eq("success_action_status", "201"),
        Condition::content_length_range(size, size),
    ];
    let request = PostRequest {
        key: &key,
        fields: &fields,
        conditions: &conditions,
    };
    // Temporary credentials: no form outlives them, and `expiresAt` says so.
    let current = state.signer.current();
    let lifetime = current.lifetime(policy.expires_seconds, now)?;
    let form = bucket.presign_post(&current.signer, &request, now, lifetime)?;
    let view_url = view_url(state, &bucket, &current, &key, now)?;
    let fields = form.fields.iter().map(|(n, v)| (n.as_ref(), v.as_ref()));
    Ok(upload_created(
        &key,
        "POST",
        &form.url,
        ("fields", fields),
        form.expires_at,
        &view_url,
    ))
}

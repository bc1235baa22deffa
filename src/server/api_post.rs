//! `POST /api/uploads` with `method=post`: a signed browser POST form
//! instead of a presigned PUT, for clients that prefer forms (an HTML form
//! with no JavaScript, or stores' POST-only tooling).
//!
//! The form allows what the PUT allows: this key, this type, exactly the
//! declared size (`content-length-range` from `size` to `size`), and asks
//! for S3's `201` XML answer.

use super::api::{push_rfc3339, view_url};
use super::api_error::ApiError;
use super::http::{push_json_string, respond, Body};
use super::state::State;
use crate::s3::PostRequest;
use crate::sigv4::Condition;
use hyper::header::{HeaderValue, CACHE_CONTROL};
use hyper::{Response, StatusCode};
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
    let mut body = String::with_capacity(1024 + view_url.len());
    body.push_str("{\"key\":");
    push_json_string(&mut body, &key);
    body.push_str(",\"method\":\"POST\",\"url\":");
    push_json_string(&mut body, &form.url);
    body.push_str(",\"fields\":{");
    for (i, (name, value)) in form.fields.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        push_json_string(&mut body, name);
        body.push(':');
        push_json_string(&mut body, value);
    }
    body.push_str("},\"expiresAt\":\"");
    push_rfc3339(&mut body, form.expires_at);
    body.push_str("\",\"viewUrl\":");
    push_json_string(&mut body, &view_url);
    body.push('}');
    let mut response = respond(StatusCode::CREATED, "application/json", body);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

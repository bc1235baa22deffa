//! The JSON API the page (and any other client) uses:
//! `GET /api/config` and `POST /api/uploads` (`method=post`: `api_post`),
//! and what the other `POST`s share (`api_batch`, `api_multipart`): the
//! token, origin and rate-limit checks, the body, the file checks.
//!
//! Handlers return `Result<Response, ApiError>`: the error arm ends the
//! request early with `?` and becomes its JSON answer.

use super::api_error::ApiError;
use super::body::{BodyError, Pace};
use super::config::is_media_type;
use super::config::multipart::MAX_SINGLE_PUT_BYTES;
use super::credentials::refresh::Current;
use super::http::{push_json_string, respond, Body};
use super::keys::push_padded;
use super::state::State;
use crate::s3::{Bucket, ObjectRequest};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST,
};
use hyper::{Request, Response, StatusCode};
use std::net::IpAddr;
use std::time::Instant;
use time::OffsetDateTime;

/// The largest form `POST /api/uploads` reads: three short fields.
const MAX_FORM_BYTES: usize = 4 * 1024;

/// `GET /api/config`: what the page checks before sending anything.
pub fn config(state: &State) -> Response<Body> {
    respond(
        StatusCode::OK,
        "application/json",
        state.config_json.clone(),
    )
}

/// `POST /api/uploads`: a presigned PUT (and a preview GET) for one file.
/// (The caller turns the error into its answer: one async layer less, and
/// so one copy less of the request in the future of every upload.)
pub async fn create_upload(
    request: Request<Incoming>,
    state: &State,
    client: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let host = admit(state, &parts.headers, client)?;
    let body = read_body(state, &parts.headers, body, BodyKind::Form(MAX_FORM_BYTES)).await?;
    let fields = super::form::parse(&body).map_err(ApiError::MalformedForm)?;
    let field = |name| required(&fields, name);
    let filename = field("filename")?;
    let content_type = field("type")?;
    let post = match fields.get("method").map(str::trim) {
        None | Some("") => false,
        Some(m) if m.eq_ignore_ascii_case("put") => false,
        Some(m) if m.eq_ignore_ascii_case("post") => true,
        Some(_) => return Err(ApiError::UnknownMethod),
    };
    let size = parse_size(field("size")?)?;
    let content_type = check_file(state, filename, content_type, size)?;
    check_single_put(size)?;
    if post {
        return super::api_post::presign(state, host, content_type, size);
    }
    presign(state, host, content_type, size)
}

/// What every `POST` of the API checks before reading its body: the
/// token, the `Origin`, and the rate limit (one token per request, however
/// many files or parts it signs). Returns the `Host` to sign for.
pub(super) fn admit<'h>(
    state: &State,
    headers: &'h hyper::HeaderMap,
    client: IpAddr,
) -> Result<Option<&'h str>, ApiError> {
    if let Some(token) = &state.config.api_token {
        check_token(state, headers, token.expose(), client)?;
    }
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    check_origin(state, headers, host)?;
    if let Err(wait) = state.limiter.check(client, Instant::now()) {
        return Err(ApiError::TooManyUploads(wait));
    }
    Ok(host)
}

/// The body an API request must have, with its size limit.
#[derive(Debug, Clone, Copy)]
pub(super) enum BodyKind {
    /// `application/x-www-form-urlencoded`, at most this many bytes.
    Form(usize),
    /// `application/json`, at most this many bytes.
    Json(usize),
}

/// Reads the whole body of an API request, of the `kind` it must be.
pub(super) async fn read_body(
    state: &State,
    headers: &hyper::HeaderMap,
    body: Incoming,
    kind: BodyKind,
) -> Result<bytes::Bytes, ApiError> {
    let (wanted, max, wrong_type) = match kind {
        BodyKind::Form(max) => (
            "application/x-www-form-urlencoded",
            max,
            ApiError::UnsupportedBody,
        ),
        BodyKind::Json(max) => ("application/json", max, ApiError::NotJson),
    };
    let is_wanted = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted));
    if !is_wanted {
        return Err(wrong_type);
    }
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(ApiError::FormTooLarge(max));
    }
    Pace::new(&state.config.limits)
        .collect(body, max)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => ApiError::FormTooLarge(max),
            BodyError::TooSlow => ApiError::BodyTimeout,
            BodyError::Malformed => ApiError::MalformedBody,
        })
}

/// A form field that must be given and not blank, trimmed.
pub(super) fn required<'f>(
    fields: &'f super::form::Form<'_>,
    name: &'static str,
) -> Result<&'f str, ApiError> {
    fields
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::MissingField(name))
}

/// `size` as a number of bytes.
pub(super) fn parse_size(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| ApiError::SizeNotANumber)
}

/// Checks a file against the upload policy (name, type, size up to
/// `UPLOAD_MAX_BYTES`) and returns its type as the policy spells it.
pub(super) fn check_file<'s>(
    state: &'s State,
    filename: &str,
    content_type: &str,
    size: u64,
) -> Result<&'s str, ApiError> {
    if filename.chars().count() > 1024 {
        return Err(ApiError::FilenameTooLong);
    }
    if !is_media_type(content_type) {
        return Err(ApiError::NotAMediaType);
    }
    let policy = &state.config.policy;
    // The policy's own spelling, which is lower case.
    let Some(content_type) = policy
        .allowed_types
        .iter()
        .find(|t| t.eq_ignore_ascii_case(content_type))
    else {
        return Err(ApiError::TypeNotAllowed {
            given: content_type.to_ascii_lowercase(),
            allowed: policy.allowed_types.join(", "),
        });
    };
    if size > policy.max_bytes {
        return Err(ApiError::TooLarge {
            size,
            limit: policy.max_bytes,
        });
    }
    if size == 0 {
        return Err(ApiError::EmptyFile);
    }
    Ok(content_type)
}

/// One PUT (or POST form) takes at most 5 GiB; larger files go multipart.
pub(super) fn check_single_put(size: u64) -> Result<(), ApiError> {
    if size > MAX_SINGLE_PUT_BYTES {
        return Err(ApiError::SinglePutTooLarge(size));
    }
    Ok(())
}

/// A presigned PUT for a file whose type and size were checked: the body
/// of `POST /api/uploads`'s answer (and of one item of a batch).
pub(super) fn presign_put_json(
    state: &State,
    bucket: &Bucket,
    content_type: &str,
    size: u64,
) -> Result<String, ApiError> {
    let policy = &state.config.policy;
    let now = OffsetDateTime::now_utc();
    let key = state.keys.key(policy, content_type, now);
    let length = size.to_string();
    let signed = [
        ("content-type", content_type),
        ("content-length", length.as_str()),
        ("if-none-match", "*"),
    ];
    let put = ObjectRequest {
        headers: &signed[..if policy.if_none_match { 3 } else { 2 }],
        ..ObjectRequest::new("PUT", &key)
    };
    // Temporary credentials: no URL outlives them, and `expiresAt` says so.
    let current = state.signer.current();
    let lifetime = current.lifetime(policy.expires_seconds, now)?;
    let upload = bucket.presign(&current.signer, &put, now, lifetime)?;
    let view_url = view_url(state, bucket, &current, &key, now)?;

    // The browser sets Content-Length itself and refuses to be told.
    let client_headers = upload
        .headers
        .iter()
        .filter(|(name, _)| *name != "content-length")
        .map(|(name, value)| (*name, *value));
    Ok(upload_json(
        &key,
        "PUT",
        &upload.url,
        ("headers", client_headers),
        upload.expires_at,
        &view_url,
    ))
}

fn presign(
    state: &State,
    host: Option<&str>,
    content_type: &str,
    size: u64,
) -> Result<Response<Body>, ApiError> {
    let bucket = state.bucket(host).ok_or(ApiError::NoHost)?;
    let mut response = created(presign_put_json(state, &bucket, content_type, size)?);
    response
        .extensions_mut()
        .insert(super::metrics::Issued::upload("PUT"));
    Ok(response)
}

/// A `201` with a JSON body, never cached.
pub(super) fn created(body: String) -> Response<Body> {
    let mut response = respond(StatusCode::CREATED, "application/json", body);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The `201` answer of both kinds of upload, never cached: `{"key",
/// "method", "url", <name>: {…}, "expiresAt", "viewUrl"}`, where `<name>`
/// is what the client sends with the file (PUT headers, POST fields).
pub(super) fn upload_created<'a>(
    key: &str,
    method: &str,
    url: &str,
    pairs: (&str, impl Iterator<Item = (&'a str, &'a str)>),
    expires_at: OffsetDateTime,
    view_url: &str,
) -> Response<Body> {
    let mut response = created(upload_json(key, method, url, pairs, expires_at, view_url));
    response
        .extensions_mut()
        .insert(super::metrics::Issued::upload(method));
    response
}

/// The body of [`upload_created`].
fn upload_json<'a>(
    key: &str,
    method: &str,
    url: &str,
    (name, pairs): (&str, impl Iterator<Item = (&'a str, &'a str)>),
    expires_at: OffsetDateTime,
    view_url: &str,
) -> String {
    let mut body = String::with_capacity(1024 + key.len() + url.len() + view_url.len());
    body.push_str("{\"key\":");
    push_json_string(&mut body, key);
    body.push_str(",\"method\":");
    push_json_string(&mut body, method);
    body.push_str(",\"url\":");
    push_json_string(&mut body, url);
    body.push(',');
    push_json_string(&mut body, name);
    body.push_str(":{");
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            body.push(',');
        }
        push_json_string(&mut body, name);
        body.push(':');
        push_json_string(&mut body, value);
    }
    body.push_str("},\"expiresAt\":\"");
    push_rfc3339(&mut body, expires_at);
    body.push_str("\",\"viewUrl\":");
    push_json_string(&mut body, view_url);
    body.push('}');
    body
}

/// A GET URL of `key`, for the page to show what was stored; it lives
/// `VIEW_EXPIRES_SECONDS`, or less if the credentials expire sooner.
pub(super) fn view_url(
    state: &State,
    bucket: &Bucket,
    current: &Current,
    key: &str,
    now: OffsetDateTime,
) -> Result<String, ApiError> {
    let lifetime = current.lifetime(state.config.policy.view_expires_seconds, now)?;
    let view = bucket.presign(
        &current.signer,
        &ObjectRequest::new("GET", key),
        now,
        lifetime,
    )?;
    Ok(view.url)
}

/// `2026-11-29T05:10:00Z`.
pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    let mut out = String::with_capacity(20);
    push_rfc3339(&mut out, t);
    out
}

pub(super) fn push_rfc3339(out: &mut String, t: OffsetDateTime) {
    push_padded(out, t.year().clamp(0, 9999) as u32, 4);
    out.push('-');
    push_padded(out, u8::from(t.month()).into(), 2);
    out.push('-');
    push_padded(out, t.day().into(), 2);
    out.push('T');
    push_padded(out, t.hour().into(), 2);
    out.push(':');
    push_padded(out, t.minute().into(), 2);
    out.push(':');
    push_padded(out, t.second().into(), 2);
    out.push('Z');
}

/// Browsers send `Origin` on every POST: it must be this server's own
/// (same host) or an allowed one. Clients without `Origin` are not browsers
/// and cannot be tricked into cross-site requests.
fn check_origin(
    state: &State,
    headers: &hyper::HeaderMap,
    host: Option<&str>,
) -> Result<(), ApiError> {
    let Some(origin) = headers.get("origin") else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let authority = origin.split_once("://").map(|(_, a)| a);
    let same_host = host.is_some() && authority == host;
    let listed = state.config.allowed_origins.iter().any(|o| o == origin);
    if same_host || listed {
        return Ok(());
    }
    Err(ApiError::OriginNotAllowed)
}

/// `Authorization: Bearer <token>` (the scheme in any case) must carry
/// `token`. Wrong guesses are limited per address, so the token cannot be
/// searched for.
pub(super) fn check_token(
    state: &State,
    headers: &hyper::HeaderMap,
    token: &str,
    client: IpAddr,
) -> Result<(), ApiError> {
    let now = Instant::now();
    if let Err(wait) = state.failed_tokens.peek(client, now) {
        return Err(ApiError::TooManyWrongTokens(wait));
    }
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, given)| given.trim());
    if given.is_some_and(|given| same_secret(given, token)) {
        return Ok(());
    }
    let _ = state.failed_tokens.check(client, now);
    Err(ApiError::Unauthorized)
}

/// Compares the SHA-256 of both in constant time: neither the position of
/// the first difference nor the token's length shows in the timing.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn tokens_compare_whole() {
        let token = "0123456789abcdef0123456789abcdef";
        assert!(same_secret(token, token));
        assert!(!same_secret(&token[..31], token));
        assert!(!same_secret(&format!("{token}0"), token));
        assert!(!same_secret("", token));
    }

    #[test]
    fn rfc3339_is_utc_seconds() {
        assert_eq!(
            rfc3339(datetime!(2026-11-29 5:10:07 UTC)),
            "2026-11-29T05:10:07Z"
        );
    }
}

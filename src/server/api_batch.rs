//! `POST /api/uploads/batch`: presigned PUTs for many files in one
//! request, so dropping a folder of photos costs one request (and one
//! rate-limit token), not one per file.
//!
//! Body: `{"files": [{"filename", "type", "size"}, …]}` (1 to
//! [`MAX_FILES`]). Answer: `201 {"uploads": [...]}`, one item per file in
//! order: what `POST /api/uploads` answers for it, or `{"error",
//! "message"}` for a file the policy refuses. A body that is not that shape
//! is refused whole.

use super::api::{
    admit, check_file, check_single_put, created, presign_put_json, read_body, BodyKind,
};
use super::api_error::ApiError;
use super::http::Body;
use super::metrics::Issued;
use super::state::State;
use crate::sigv4::json::{self, Value};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::net::IpAddr;

/// Where it is served (`POST` only).
pub const PATH: &str = "/api/uploads/batch";

/// The most files in one batch.
pub const MAX_FILES: usize = 100;

/// The largest body read: 100 files with names of 1024 characters,
/// escaped, fit.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Answers `POST /api/uploads/batch`.
pub async fn create_batch(
    request: Request<Incoming>,
    state: &State,
    client: IpAddr,
) -> Response<Body> {
    batch(request, state, client)
        .await
        .unwrap_or_else(ApiError::into_response)
}

async fn batch(
    request: Request<Incoming>,
    state: &State,
    client: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let host = admit(state, &parts.headers, client)?;
    let body = read_body(state, &parts.headers, body, BodyKind::Json(MAX_BODY_BYTES)).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::MalformedJson("it is not UTF-8".into()))?;
    let document = json::parse(text).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let files = document
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::MalformedJson("it has no \"files\" array".into()))?;
    if files.is_empty() || files.len() > MAX_FILES {
        return Err(ApiError::BatchSize(files.len()));
    }
    let bucket = state.bucket(host).ok_or(ApiError::NoHost)?;
    let mut out = String::with_capacity(files.len() * 1024);
    let mut issued = Issued::default();
    out.push_str("{\"uploads\":[");
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match checked(state, file) {
            // Signing fails for every file alike (credentials): the whole
            // request fails with it.
            Ok((content_type, size)) => {
                out.push_str(&presign_put_json(state, &bucket, content_type, size)?);
                issued.add(Issued::upload("PUT"));
            }
            Err(refused) => out.push_str(&refused.status_and_body().1),
        }
    }
    out.push_str("]}");
    let mut response = created(out);
    response.extensions_mut().insert(issued);
    Ok(response)
}

/// One file's type (as the policy spells it) and size, or why it is refused.
fn checked<'s>(state: &'s State, file: &Value) -> Result<(&'s str, u64), ApiError> {
    let text = |name: &'static str| {
        file.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(ApiError::MissingField(name))
    };
    let filename = text("filename")?;
    let content_type = text("type")?;
    let size = match file.get("size") {
        None => return Err(ApiError::MissingField("size")),
        Some(size) => size.as_u64().ok_or(ApiError::SizeNotANumber)?,
    };
    let content_type = check_file(state, filename, content_type, size)?;
    check_single_put(size)?;
    Ok((content_type, size))
}

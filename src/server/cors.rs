//! CORS for `ALLOWED_ORIGINS`: a page on a listed origin may call the API
//! from the browser, and upload to the local bucket with what it returns.
//! Listed origins get `Access-Control-Allow-Origin` with their own name
//! (never `*`), preflights get an answer, and every response of these
//! paths says it depends on `Origin` so no cache serves one origin's
//! answer to another.

use super::api_error::ApiError;
use super::http::{empty, Body};
use super::state::State;
use hyper::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use hyper::{HeaderMap, Response, StatusCode};

/// What a cross-origin caller may do on a group of paths.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Request headers a preflight may ask for.
    allow_headers: &'static str,
    /// Response headers the page may read.
    expose_headers: &'static str,
}

/// `/api/…`: the token and the form's type; `Retry-After` on a 429.
pub const API: Rules = Rules {
    allow_headers: "authorization, content-type",
    expose_headers: "retry-after",
};

/// `/s3/local/…`: the headers a presigned PUT signs; the `ETag` of what
/// was stored, as a real bucket's CORS rule exposes it.
pub const LOCAL_BUCKET: Rules = Rules {
    allow_headers: "content-type, if-none-match",
    expose_headers: "etag",
};

/// The `Origin` of a request if it is listed in `ALLOWED_ORIGINS`.
pub fn listed_origin(state: &State, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(ORIGIN)?;
    let text = origin.to_str().ok()?;
    state
        .config
        .allowed_origins
        .iter()
        .any(|o| o == text)
        .then(|| origin.clone())
}

/// Adds the CORS headers to a response for `origin`.
pub fn decorate(response: &mut Response<Body>, origin: Option<HeaderValue>, rules: Rules) {
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origin {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(rules.expose_headers),
        );
    }
}

/// `OPTIONS` on an API path that takes `methods`: a preflight from a
/// listed origin for one of them gets 204 with what it may send.
pub fn preflight(
    state: &State,
    headers: &HeaderMap,
    methods: &'static str,
    rules: Rules,
) -> Response<Body> {
    let wanted = headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok());
    let origin = listed_origin(state, headers);
    let mut response = match (wanted, &origin) {
        (Some(method), Some(_)) if methods.split(", ").any(|m| m == method) => {
            let mut response = Response::new(empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            let h = response.headers_mut();
            h.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(methods),
            );
            h.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(rules.allow_headers),
            );
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            response
        }
        (None, _) => {
            let mut response = Response::new(empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        _ => ApiError::PreflightRefused.into_response(),
    };
    decorate(&mut response, origin, rules);
    response
}

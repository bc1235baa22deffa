//! CORS for `ALLOWED_ORIGINS`: a page on a listed origin may call the API
//! from the browser. Listed origins get `Access-Control-Allow-Origin` with
//! their own name (never `*`), preflights get an answer, and every API
//! response says it depends on `Origin` so no cache serves one origin's
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

/// Adds the CORS headers to an API response for `origin`.
pub fn decorate(response: &mut Response<Body>, origin: Option<HeaderValue>) {
    let headers = response.headers_mut();
    headers.append(VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origin {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("retry-after"),
        );
    }
}

/// `OPTIONS` on an API path that takes `methods`: a preflight from a
/// listed origin for one of them gets 204 with what it may send.
pub fn preflight(state: &State, headers: &HeaderMap, methods: &'static str) -> Response<Body> {
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
                HeaderValue::from_static("authorization, content-type"),
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
    decorate(&mut response, origin);
    response
}

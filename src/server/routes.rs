//! Routing: one `match` on method and path, plus the headers every
//! response carries and the access log.

use super::access_log::Entry;
use super::api_error::ApiError;
use super::http::{respond, Body};
use super::state::{State, LOCAL_PREFIX};
use super::{api, api_batch, api_multipart, cors, local_bucket};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS};
use hyper::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::time::Instant;

/// Answers one request from `client`.
pub async fn handle(
    request: Request<Incoming>,
    state: &State,
    client: SocketAddr,
) -> Response<Body> {
    let started = Instant::now();
    // Clones of a `Bytes` and (for the usual methods) an enum: no copy of
    // the path on the way to the log.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let cross_origin = cors_rules(uri.path(), state)
        .map(|rules| (cors::listed_origin(state, request.headers()), rules));
    let mut response = match state.hosts.check(request.uri(), request.headers()) {
        Ok(()) => route(request, state, client).await,
        Err(refusal) => refusal.into_response(),
    };
    if let Some((origin, rules)) = cross_origin {
        cors::decorate(&mut response, origin, rules);
    }
    let headers = response.headers_mut();
    // Standard names: a string name would be parsed again on every request.
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    state.metrics.record(uri.path(), &response);
    if let Some(log) = &state.access_log {
        log.record(&Entry {
            client: client.ip(),
            method: method.as_str(),
            // Without the query string: presigned URLs are bearer tokens.
            path: uri.path(),
            status: response.status().as_u16(),
            bytes: response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()),
            elapsed: started.elapsed(),
        });
    }
    response
}

async fn route(request: Request<Incoming>, state: &State, client: SocketAddr) -> Response<Body> {
    let path = request.uri().path();
    let method = request.method();
    let read_only = method == Method::GET || method == Method::HEAD;
    match path {
        "/healthz" if read_only => respond(StatusCode::OK, "text/plain; charset=utf-8", "ok"),
        "/api/config" if method == Method::GET => api::config(state),
        "/metrics" if read_only => super::metrics::scrape(state, request.headers(), client.ip()),
        "/api/uploads" if method == Method::POST => api::create_upload(request, state, client.ip())
            .await
            .unwrap_or_else(ApiError::into_response),
        "/api/config" if method == Method::OPTIONS => {
            cors::preflight(state, request.headers(), "GET", cors::API)
        }
        "/api/uploads" if method == Method::OPTIONS => {
            cors::preflight(state, request.headers(), "POST", cors::API)
        }
        // The rarer routes' futures are boxed: every request's future is
        // as large as its largest branch, and hyper moves it into the
        // connection's in-flight slot, so inline they would make the
        // presign route's future 4,368 bytes instead of 2,416.
        api_batch::PATH if method == Method::POST => {
            Box::pin(api_batch::create_batch(request, state, client.ip())).await
        }
        _ if api_multipart::PATHS.contains(&path) && method == Method::POST => {
            Box::pin(api_multipart::handle(request, state, client.ip())).await
        }
        _ if path == api_batch::PATH || api_multipart::PATHS.contains(&path) => match *method {
            Method::OPTIONS => cors::preflight(state, request.headers(), "POST", cors::API),
            _ => not_allowed("POST"),
        },
        "/healthz" | "/api/config" => not_allowed("GET, HEAD"),
        "/api/uploads" => not_allowed("POST"),
        _ if is_local_bucket(path, state) && method == Method::OPTIONS => cors::preflight(
            state,
            request.headers(),
            "GET, HEAD, PUT, POST, DELETE",
            cors::LOCAL_BUCKET,
        ),
        _ if is_local_bucket(path, state) => {
            let dir = state.local_dir.clone().unwrap_or_default();
            Box::pin(local_bucket::handle(request, state, &dir)).await
        }
        _ => match state.assets.get(path, request.headers()) {
            Some(_) if !read_only => not_allowed("GET, HEAD"),
            Some(asset) => asset,
            None => ApiError::NotFound.into_response(),
        },
    }
}

/// Whether `path` is served by the local bucket.
fn is_local_bucket(path: &str, state: &State) -> bool {
    state.local_dir.is_some()
        && path
            .strip_prefix(LOCAL_PREFIX)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The CORS rules of `path`, if pages on other origins may use it.
fn cors_rules(path: &str, state: &State) -> Option<cors::Rules> {
    if path.starts_with("/api/") {
        Some(cors::API)
    } else if is_local_bucket(path, state) {
        Some(cors::LOCAL_BUCKET)
    } else {
        None
    }
}

fn not_allowed(allow: &'static str) -> Response<Body> {
    ApiError::MethodNotAllowed(allow).into_response()
}

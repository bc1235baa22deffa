//! `GET /metrics`: counters in the Prometheus text format (version
//! 0.0.4), written by hand.
//!
//! Every counter is an atomic in [`Metrics`], which [`super::state::State`]
//! holds: counting costs a relaxed add and no lock. Handlers do not call
//! into this file for most counts: an error or a signed upload marks its
//! response with a small extension ([`Refusal`], [`VerifyFailure`],
//! [`Issued`]), and `routes` hands every response to [`Metrics::record`]
//! once, with the request's route and status. Only what a response cannot
//! tell (bytes stored, open connections, lines the access log dropped) is
//! counted where it happens.
//!
//! The endpoint is off unless `METRICS_TOKEN` is set, and then needs
//! `Authorization: Bearer <METRICS_TOKEN>`, on the one public port: a
//! second listener would be a second thing to configure, expose and
//! protect in every container runtime, while request counts and refusal
//! reasons tell an outsider about traffic and defences. Wrong tokens are
//! limited per address like `API_TOKEN`'s.

use super::api_error::ApiError;
use super::http::{respond, Body};
use super::s3_error::S3Error;
use super::state::State;
use hyper::{HeaderMap, Response, StatusCode};
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Route labels: every path falls in one, so the label set is bounded
/// whatever clients request.
const ROUTES: [&str; 9] = [
    "page",
    "/healthz",
    "/api/config",
    "/api/uploads",
    "/s3",
    "/metrics",
    "other",
    "/api/uploads/batch",
    "/api/multipart",
];

/// Statuses counted: 100 to 599.
const FIRST_STATUS: u16 = 100;
const STATUSES: usize = 500;

/// Why a request was refused, in the order of `REFUSALS`.
#[derive(Debug, Clone, Copy)]
pub enum Reason {
    /// `type` not in `UPLOAD_ALLOWED_TYPES`.
    Type,
    /// Over `UPLOAD_MAX_BYTES`.
    Size,
    /// An `Origin` not allowed.
    Origin,
    /// `RATE_LIMIT_PER_MINUTE`.
    RateLimit,
    /// A missing or wrong bearer token (or too many wrong ones).
    Token,
    /// A `Host` not answered (DNS rebinding).
    Host,
    /// A connection over `MAX_CONNECTIONS_PER_IP`.
    Connections,
}

/// The labels of [`Reason`], in its order.
const REFUSALS: [&str; 7] = [
    "type",
    "size",
    "origin",
    "rate_limit",
    "token",
    "host",
    "connections",
];

/// What a presigned URL lets its holder do: upload by PUT, by POST form,
/// view (`get`, the index `VIEW`), or one step of a multipart upload
/// (create, a part, list, complete, abort).
const KINDS: [&str; 4] = ["put", "post", "get", "multipart"];
const VIEW: usize = 2;
const MULTIPART: usize = 3;

/// The S3 codes of failed signature and policy checks (those of
/// [`crate::sigv4::VerifyError`] and [`crate::sigv4::PostError`]), and
/// `other` for any code added later.
const VERIFY_CODES: [&str; 9] = [
    "AccessDenied",
    "AuthorizationQueryParametersError",
    "EntityTooLarge",
    "EntityTooSmall",
    "InvalidAccessKeyId",
    "InvalidArgument",
    "InvalidPolicyDocument",
    "SignatureDoesNotMatch",
    "other",
];

/// A response refused for this reason.
#[derive(Debug, Clone, Copy)]
pub struct Refusal(Reason);

/// A local-bucket response refused because a signature or policy check
/// failed with this S3 code (an index into `VERIFY_CODES`).
#[derive(Debug, Clone, Copy)]
pub struct VerifyFailure(usize);

/// A response that carries presigned URLs: how many of each kind (in the
/// order of `KINDS`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Issued([u64; KINDS.len()]);

impl Issued {
    /// One upload URL for the method `PUT` or `POST`, and a GET to view it.
    pub fn upload(method: &str) -> Issued {
        let mut issued = Issued::default();
        issued.0[usize::from(method.eq_ignore_ascii_case("post"))] = 1;
        issued.0[VIEW] = 1;
        issued
    }

    /// `steps` multipart URLs, and `views` GETs to view the object.
    pub fn multipart(steps: usize, views: usize) -> Issued {
        let mut issued = Issued::default();
        issued.0[MULTIPART] = steps as u64;
        issued.0[VIEW] = views as u64;
        issued
    }

    /// These and `other` together (a batch's answer).
    pub fn add(&mut self, other: Issued) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

/// The server's counters since it started.
#[derive(Debug)]
pub struct Metrics {
    requests: Vec<AtomicU64>,
    refusals: [AtomicU64; REFUSALS.len()],
    issued: [AtomicU64; KINDS.len()],
    verify_failures: [AtomicU64; VERIFY_CODES.len()],
    stored_bytes: AtomicU64,
    stored_objects: AtomicU64,
    open_connections: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..ROUTES.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            refusals: Default::default(),
            issued: Default::default(),
            verify_failures: Default::default(),
            stored_bytes: AtomicU64::new(0),
            stored_objects: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
        }
    }
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub struct OpenConnection<'a>(&'a Metrics);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    /// Counts the answer to a request for `path`, and what its extensions
    /// say was refused or issued.
    pub fn record(&self, path: &str, response: &Response<Body>) {
        let status = usize::from(response.status().as_u16().saturating_sub(FIRST_STATUS));
        if status < STATUSES {
            self.requests[route(path) * STATUSES + status].fetch_add(1, Relaxed);
        }
        let extensions = response.extensions();
        if let Some(Refusal(reason)) = extensions.get() {
            self.refusals[*reason as usize].fetch_add(1, Relaxed);
        }
        if let Some(VerifyFailure(code)) = extensions.get() {
            self.verify_failures[*code].fetch_add(1, Relaxed);
        }
        if let Some(Issued(counts)) = extensions.get() {
            for (counter, n) in self.issued.iter().zip(counts) {
                if *n > 0 {
                    counter.fetch_add(*n, Relaxed);
                }
            }
        }
    }

    /// An object of `bytes` placed in the local bucket.
    pub fn stored(&self, bytes: u64) {
        self.stored_bytes.fetch_add(bytes, Relaxed);
        self.stored_objects.fetch_add(1, Relaxed);
    }

    /// The object just placed at `path`, whose length the caller did not
    /// count (a POST upload): read from the file.
    pub fn stored_file(&self, path: &std::path::Path) {
        self.stored(std::fs::metadata(path).map_or(0, |m| m.len()));
    }

    /// A connection accepted; counted as open until the guard is dropped.
    pub fn open_connection(&self) -> OpenConnection<'_> {
        self.open_connections.fetch_add(1, Relaxed);
        OpenConnection(self)
    }

    /// A connection refused for its address's cap, before any request.
    pub fn refused_connection(&self) {
        self.refusals[Reason::Connections as usize].fetch_add(1, Relaxed);
    }

    /// The text format, with the access log's dropped lines.
    pub fn render(&self, dropped_log_lines: u64) -> String {
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "presign_http_requests_total",
            "counter",
            "Requests answered, by route and status.",
        );
        for (r, route) in ROUTES.iter().enumerate() {
            for status in 0..STATUSES {
                let n = self.requests[r * STATUSES + status].load(Relaxed);
                if n > 0 {
                    let status = status + usize::from(FIRST_STATUS);
                    let _ = writeln!(
                        out,
                        "presign_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        labelled(
            &mut out,
            "presign_presigned_urls_total",
            "Presigned URLs issued, by kind (get: the view URL of each upload).",
            "kind",
            &KINDS,
            &self.issued,
        );
        labelled(
            &mut out,
            "presign_refusals_total",
            "Requests or connections refused, by reason.",
            "reason",
            &REFUSALS,
            &self.refusals,
        );
        labelled(
            &mut out,
            "presign_signature_failures_total",
            "Local-bucket requests whose signature or POST policy did not verify, by S3 code.",
            "code",
            &VERIFY_CODES,
            &self.verify_failures,
        );
        let single = [
            (
                "presign_local_bucket_written_bytes_total",
                "counter",
                "Bytes of objects stored in the local bucket.",
                self.stored_bytes.load(Relaxed),
            ),
            (
                "presign_local_bucket_objects_stored_total",
                "counter",
                "Objects stored in the local bucket.",
                self.stored_objects.load(Relaxed),
            ),
            (
                "presign_open_connections",
                "gauge",
                "Client connections open now.",
                self.open_connections.load(Relaxed),
            ),
            (
                "presign_access_log_dropped_lines_total",
                "counter",
                "Access log lines dropped because stderr was read slower than requests came in.",
                dropped_log_lines,
            ),
        ];
        for (name, kind, help, value) in single {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// `GET /metrics`: 404 when `METRICS_TOKEN` is unset (as if there were no
/// such path), 401 without the token, the counters with it.
pub fn scrape(state: &State, headers: &HeaderMap, client: IpAddr) -> Response<Body> {
    let Some(token) = &state.config.metrics_token else {
        return ApiError::NotFound.into_response();
    };
    if let Err(refused) = super::api::check_token(state, headers, token.expose(), client) {
        return refused.into_response();
    }
    let dropped = state
        .access_log
        .as_ref()
        .map_or(0, |log| log.dropped_total());
    let mut response = respond(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        state.metrics.render(dropped),
    );
    response.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Marks an API error's response with its refusal reason, if it is one.
pub fn mark_api_error(error: &ApiError, response: &mut Response<Body>) {
    use ApiError::*;
    let reason = match error {
        TypeNotAllowed { .. } => Reason::Type,
        TooLarge { .. } => Reason::Size,
        OriginNotAllowed | PreflightRefused => Reason::Origin,
        TooManyUploads(_) => Reason::RateLimit,
        Unauthorized | TooManyWrongTokens(_) => Reason::Token,
        HostNotAllowed => Reason::Host,
        TooManyConnections => Reason::Connections,
        _ => return,
    };
    response.extensions_mut().insert(Refusal(reason));
}

/// Marks a local-bucket error's response: failed signature and policy
/// checks by code, objects over the size limit as a size refusal.
pub fn mark_s3_error(error: &S3Error, response: &mut Response<Body>) {
    let code = match error {
        S3Error::Verify(e) => e.s3_code(),
        S3Error::Policy(e) => e.s3_code(),
        S3Error::EntityTooLarge => {
            response.extensions_mut().insert(Refusal(Reason::Size));
            return;
        }
        S3Error::ContentMismatch(_) => {
            response.extensions_mut().insert(Refusal(Reason::Type));
            return;
        }
        _ => return,
    };
    let index = VERIFY_CODES
        .iter()
        .position(|c| *c == code)
        .unwrap_or(VERIFY_CODES.len() - 1);
    response.extensions_mut().insert(VerifyFailure(index));
}

/// The index of `path`'s route label. The page's files are every
/// top-level `.js`, `.css` or `.html` path (found or not): the label stays
/// right as files are added.
fn route(path: &str) -> usize {
    let top_level_file = |path: &str| {
        path.rfind('/') == Some(0)
            && [".js", ".css", ".html"]
                .iter()
                .any(|ext| path.ends_with(ext))
    };
    match path {
        "/" => 0,
        _ if top_level_file(path) => 0,
        "/healthz" => 1,
        "/api/config" => 2,
        "/api/uploads" => 3,
        "/metrics" => 5,
        "/api/uploads/batch" => 7,
        _ if path == "/api/multipart" || path.starts_with("/api/multipart/") => 8,
        _ if path == "/s3" || path.starts_with("/s3/") => 4,
        _ => 6,
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A counter family with one label, every value written (zeros too), so
/// a dashboard sees the series before the first event.
fn labelled(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    values: &[&str],
    counters: &[AtomicU64],
) {
    family(out, name, "counter", help);
    for (value, counter) in values.iter().zip(counters) {
        let _ = writeln!(
            out,
            "{name}{{{label}=\"{value}\"}} {}",
            counter.load(Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_has_a_bounded_route_label() {
        assert_eq!(ROUTES[route("/")], "page");
        assert_eq!(ROUTES[route("/uploader-v1.js")], "page");
        assert_eq!(ROUTES[route("/a/b.js")], "other");
        assert_eq!(ROUTES[route("/s3/local/a/b.png")], "/s3");
        assert_eq!(ROUTES[route("/s3x")], "other");
        assert_eq!(ROUTES[route("/api/uploads/")], "other");
        assert_eq!(ROUTES[route(&"/x".repeat(100))], "other");
    }

    #[test]
    fn the_text_format_has_help_type_and_samples() {
        let metrics = Metrics::default();
        let mut response = respond(StatusCode::CREATED, "application/json", "{}");
        response.extensions_mut().insert(Issued::upload("POST"));
        metrics.record("/api/uploads", &response);
        metrics.stored(7);
        let open = metrics.open_connection();
        let text = metrics.render(3);
        drop(open);
        for line in [
            "presign_http_requests_total{route=\"/api/uploads\",status=\"201\"} 1",
            "presign_presigned_urls_total{kind=\"post\"} 1",
            "presign_presigned_urls_total{kind=\"get\"} 1",
            "presign_presigned_urls_total{kind=\"put\"} 0",
            "presign_local_bucket_written_bytes_total 7",
            "presign_local_bucket_objects_stored_total 1",
            "presign_open_connections 1",
            "presign_access_log_dropped_lines_total 3",
            "# TYPE presign_open_connections gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(metrics.render(0).contains("presign_open_connections 0\n"));
    }
}

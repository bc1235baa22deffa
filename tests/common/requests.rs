//! Requests to a [`TestServer`] over real TCP with the blocking client of
//! `http.rs`, in the shapes the API tests send again and again. A test
//! crate that includes this also includes `http.rs` and `server.rs` as
//! modules `http` and `server`.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

use super::http;
use super::server::TestServer;

/// The `Content-Type` of a urlencoded form, as the page posts it.
pub const FORM_TYPE: &str = "application/x-www-form-urlencoded";

/// Sends `method url` to `s` (whatever host the absolute `url` names)
/// with `headers` and `body`; fails the test if the exchange breaks.
pub fn send(
    s: &TestServer,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Response {
    http::send(&s.addr.to_string(), method, url, headers, body).unwrap()
}

/// Sends `method path` to `s`, with `path` on the server's own origin.
pub fn request(
    s: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> http::Response {
    send(s, method, &format!("{}{path}", s.origin()), headers, body)
}

/// `GET path` with `headers`.
pub fn get(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> http::Response {
    request(s, "GET", path, headers, b"")
}

/// `POST /api/uploads` with the urlencoded `form`, its `Content-Type`,
/// and `headers` after it.
pub fn post_upload_form(s: &TestServer, form: &str, headers: &[(&str, &str)]) -> http::Response {
    let mut all = vec![("Content-Type", FORM_TYPE)];
    all.extend_from_slice(headers);
    request(s, "POST", "/api/uploads", &all, form.as_bytes())
}

//! Splitting a presigned URL back into what a server receives, and
//! verifying it as the server would.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

use presign::sigv4::{
    verify_presigned, Received, Signer, VerifyError, VerifyOptions, UNSIGNED_PAYLOAD,
};
use time::OffsetDateTime;

/// `(authority, request target)` of an absolute `http(s)://` URL; the
/// target is `/` when the URL has no path.
pub fn target(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").expect("absolute URL").1;
    match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    }
}

/// `(authority, path, query)` of an absolute `http(s)://` URL.
pub fn split(url: &str) -> (&str, &str, &str) {
    let (authority, target) = target(url);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (authority, path, query)
}

/// Verifies `method url` received at `now` with `headers` and the `host`
/// of the URL's authority, as a server knowing only `signer`'s key does.
pub fn verify(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    now: OffsetDateTime,
    signer: &Signer,
) -> Result<(), VerifyError> {
    let (authority, path, query) = split(url);
    let mut all = vec![("host", authority)];
    all.extend_from_slice(headers);
    let received = Received {
        method,
        path,
        query,
        headers: &all,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let key_id = signer.credentials().access_key_id();
    verify_presigned(&received, now, VerifyOptions::default(), |id| {
        (id == key_id).then_some(signer)
    })
    .map(|_| ())
}

/// Replaces the value of query parameter `name` in `query`.
pub fn with_param(query: &str, name: &str, value: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of query parameter `name`.
pub fn param<'a>(query: &'a str, name: &str) -> &'a str {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in {query}"))
}

//! Splitting a presigned URL back into what a server receives.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

/// `(authority, path, query)` of an absolute `http(s)://` URL.
pub fn split(url: &str) -> (&str, &str, &str) {
    let rest = url.split_once("://").expect("absolute URL").1;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, target) = rest.split_at(slash);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (authority, path, query)
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

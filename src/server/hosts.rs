//! DNS rebinding protection: a page on `evil.example` whose name is made
//! to resolve to 127.0.0.1 reaches a server on loopback as same-origin. It
//! cannot change the `Host` it sends, so a server on loopback answers
//! only loopback names, `PUBLIC_URL`'s host and `ALLOWED_HOSTS`.

use super::api_error::ApiError;
use super::config::Config;
use hyper::header::HOST;
use hyper::{HeaderMap, Uri};
use std::net::IpAddr;

/// The `Host` names a server answers.
#[derive(Debug)]
pub struct AllowedHosts {
    /// `None`: any host (listening on a non-loopback address with no
    /// `ALLOWED_HOSTS`).
    names: Option<Vec<String>>,
}

impl AllowedHosts {
    /// From the listen address, `PUBLIC_URL` and `ALLOWED_HOSTS`.
    pub fn new(config: &Config) -> Self {
        if !config.listen.ip().is_loopback() && config.allowed_hosts.is_empty() {
            return AllowedHosts { names: None };
        }
        let mut names = config.allowed_hosts.clone();
        if let Some(url) = &config.public_url {
            let authority = url.split_once("://").map_or(url.as_str(), |(_, a)| a);
            names.push(host_name(authority).to_owned());
        }
        AllowedHosts { names: Some(names) }
    }

    /// `Ok` if the request's host may be answered; a request without one
    /// is not a browser's.
    ///
    /// The host is the request target's when it is in absolute form
    /// (`GET http://host/path`, RFC 9112 3.2.2), else `Host`'s. A target
    /// and a `Host` that name different hosts are refused: the handlers
    /// sign and verify for `Host`, and must not be checked for another.
    pub fn check(&self, target: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
        let header = headers.get(HOST).map(|h| h.to_str().unwrap_or(""));
        let target = target.authority().map(|a| a.as_str());
        if let (Some(target), Some(header)) = (target, header) {
            if !target.eq_ignore_ascii_case(header) {
                return Err(ApiError::TargetHostMismatch);
            }
        }
        let Some(names) = &self.names else {
            return Ok(());
        };
        let Some(host) = target.or(header) else {
            return Ok(());
        };
        let name = host_name(host).to_ascii_lowercase();
        if is_loopback_name(&name) || names.contains(&name) {
            return Ok(());
        }
        Err(ApiError::HostNotAllowed)
    }
}

/// `name` of `name:port`, `[v6]` of `[v6]:port`.
fn host_name(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    }
}

fn is_loopback_name(name: &str) -> bool {
    let ip = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name.ends_with(".localhost")
        || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_with_and_without_ports() {
        for name in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "[::1]",
        ] {
            assert!(is_loopback_name(name), "{name}");
        }
        for name in [
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1",
            "[::2]",
            "",
        ] {
            assert!(!is_loopback_name(name), "{name}");
        }
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name("a.example:80"), "a.example");
    }
}

//! Where an S3 API lives: `http(s)://host[:port][/base/path]`.

use crate::sigv4::{canonical, encode};
use std::fmt;

/// An S3 service endpoint, without any bucket in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    /// Lower-cased; IPv6 addresses keep their brackets.
    host: String,
    /// `None` for the scheme's default port, which `Host` must not carry.
    port: Option<u16>,
    /// Empty, or a path without trailing `/` that prefixes every request.
    base_path: String,
}

/// An endpoint URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEndpoint {
    url: String,
    reason: &'static str,
}

impl fmt::Display for InvalidEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid endpoint {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for InvalidEndpoint {}

impl Endpoint {
    /// Amazon S3 in `region`: `https://s3.<region>.amazonaws.com`.
    pub fn aws(region: &str) -> Self {
        Endpoint {
            https: true,
            host: format!("s3.{region}.amazonaws.com"),
            port: None,
            base_path: String::new(),
        }
    }

    /// Parses `http://host:port`, `https://host`, `http://[::1]:9000/prefix`.
    pub fn parse(url: &str) -> Result<Self, InvalidEndpoint> {
        let fail = |reason| InvalidEndpoint {
            url: redacted(url),
            reason,
        };
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(fail("it must start with http:// or https://"));
        };
        if rest.contains(['?', '#']) {
            return Err(fail("it must not have a query or fragment"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(fail("credentials do not belong in the endpoint URL"));
        }
        let (host, port) = split_port(authority)
            .ok_or_else(|| fail("the port is not a number from 1 to 65535"))?;
        let host_is_valid = if let Some(inner) = host.strip_prefix('[') {
            inner
                .strip_suffix(']')
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
        } else {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if !host_is_valid {
            return Err(fail(
                "the host is missing or not a valid name or IP address",
            ));
        }
        // Kept in canonical form, as S3 will read it: then a URL's path is
        // its own canonical URI, and presigning need not work it out. Dot
        // segments and encoded slashes would read differently on the way.
        let path = path.trim_end_matches('/');
        let odd_segment = path.split('/').any(|segment| {
            let decoded = encode::decode(segment);
            matches!(&*decoded, b"." | b"..") || decoded.contains(&b'/')
        });
        if odd_segment {
            return Err(fail(
                "its path must not have '.' or '..' segments or an encoded '/'",
            ));
        }
        let base_path = match path {
            "" => String::new(),
            path => canonical::uri(path, false, false).into_owned(),
        };
        let default_port = if https { 443 } else { 80 };
        Ok(Endpoint {
            https,
            host: host.to_ascii_lowercase(),
            port: port.filter(|&p| p != default_port),
            base_path,
        })
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.https {
            "https"
        } else {
            "http"
        }
    }

    /// Whether the endpoint uses TLS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host name or bracketed IPv6 address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path prefix, empty or starting with `/`, in canonical form
    /// (`http://h/a b` has `/a%20b`).
    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// Whether the host is an IP address (no virtual hosting possible).
    pub fn is_ip(&self) -> bool {
        self.host.starts_with('[') || self.host.parse::<std::net::Ipv4Addr>().is_ok()
    }

    /// The `Host` header value for `host` on this endpoint's port.
    pub(crate) fn authority(&self, host: &str) -> String {
        match self.port {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme(),
            self.authority(&self.host),
            self.base_path
        )
    }
}

/// `url` fit to print: a user and password, a query and a fragment may
/// hold secrets, and are replaced by `…`.
fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = match rest.find(['?', '#']) {
        Some(i) => format!("{}…", &rest[..i]),
        None => rest.to_owned(),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let rest = match rest[..authority_end].rfind('@') {
        Some(at) => format!("…{}", &rest[at..]),
        None => rest,
    };
    if scheme.is_empty() && !url.contains("://") {
        rest
    } else {
        format!("{scheme}://{rest}")
    }
}

fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port_start = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => i,
        _ => return Some((authority, None)),
    };
    let port = authority[port_start + 1..]
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)?;
    Some((&authority[..port_start], Some(port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_paths() {
        let e = Endpoint::parse("http://127.0.0.1:9000/").unwrap();
        assert_eq!(
            (e.host(), e.port(), e.base_path()),
            ("127.0.0.1", Some(9000), "")
        );
        assert_eq!(e.to_string(), "http://127.0.0.1:9000");
        let e = Endpoint::parse("https://ACCOUNT.r2.cloudflarestorage.com").unwrap();
        assert_eq!(e.host(), "account.r2.cloudflarestorage.com");
        let e = Endpoint::parse("http://[::1]:8333/s3").unwrap();
        assert_eq!(
            (e.host(), e.port(), e.base_path()),
            ("[::1]", Some(8333), "/s3")
        );
        assert!(e.is_ip());
    }

    #[test]
    fn base_paths_are_kept_in_canonical_form() {
        let e = Endpoint::parse("http://h/a b!/x%41y/~z/").unwrap();
        assert_eq!(e.base_path(), "/a%20b%21/xAy/~z");
        for odd in [
            "http://h/a%2F",
            "http://h/a/%2e%2e/b",
            "http://h/./b",
            "http://h/a/..",
        ] {
            assert!(Endpoint::parse(odd).is_err(), "{odd}");
        }
    }

    #[test]
    fn drops_default_ports() {
        assert_eq!(
            Endpoint::parse("https://s3.example.com:443")
                .unwrap()
                .port(),
            None
        );
        assert_eq!(
            Endpoint::parse("http://s3.example.com:80").unwrap().port(),
            None
        );
        assert_eq!(
            Endpoint::parse("http://s3.example.com:443").unwrap().port(),
            Some(443)
        );
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "s3.example.com",
            "ftp://x",
            "http://",
            "http://host:port",
            "http://host:0",
            "http://host:70000",
            "http://u:p@host",
            "http://host/?x=1",
            "http://[::1",
            "http://[zz]:1",
            "http://a b",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_never_print_a_user_password_or_query() {
        for (url, shown) in [
            ("http://user:hunter2@host", "http://…@host"),
            ("http://host/?X-Amz-Signature=abc", "http://host/…"),
            ("https://u:p@h/x#frag-secret", "https://…@h/x…"),
            ("u:p@host", "…@host"),
        ] {
            let message = Endpoint::parse(url).unwrap_err().to_string();
            assert!(message.contains(&format!("{shown:?}")), "{message}");
            for secret in ["hunter2", "abc", "u:p", "frag-secret", "user"] {
                assert!(!message.contains(secret), "{message}");
            }
        }
    }
}

//! Who may reach the API, and at which names: `API_TOKEN`,
//! `ALLOWED_ORIGINS`, `ALLOWED_HOSTS`, `PUBLIC_URL`.

use super::{error, ConfigError, Vars};
use crate::s3::Endpoint;

/// The shortest `API_TOKEN` accepted: a guessable token is no lock.
pub const MIN_API_TOKEN_LEN: usize = 32;

/// `API_TOKEN`, kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// The token itself, for the comparison.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

pub(super) fn api_token(vars: &Vars) -> Result<Option<ApiToken>, ConfigError> {
    token(vars, "API_TOKEN")
}

/// `METRICS_TOKEN`: the bearer token of `GET /metrics`, which is off
/// without it. The same rules as `API_TOKEN`.
pub(super) fn metrics_token(vars: &Vars) -> Result<Option<ApiToken>, ConfigError> {
    token(vars, "METRICS_TOKEN")
}

fn token(vars: &Vars, name: &str) -> Result<Option<ApiToken>, ConfigError> {
    match vars.get(name) {
        None => Ok(None),
        Some(token) if token.len() < MIN_API_TOKEN_LEN => Err(error(format!(
            "{name} is {} characters; use at least {MIN_API_TOKEN_LEN} random ones \
             (e.g. openssl rand -hex 32)",
            token.len()
        ))),
        Some(token) if !token.bytes().all(|b| b.is_ascii_graphic()) => Err(error(format!(
            "{name} must be printable ASCII without spaces, as an Authorization header carries it"
        ))),
        Some(token) => Ok(Some(ApiToken(token.to_owned()))),
    }
}

/// `PUBLIC_URL`: `http(s)://host[:port]`, which local-bucket URLs are
/// signed for. A path, query or user in it would make every upload fail.
pub(super) fn public_url(vars: &Vars) -> Result<Option<String>, ConfigError> {
    let Some(url) = vars.get("PUBLIC_URL") else {
        return Ok(None);
    };
    origin("PUBLIC_URL", url).map(Some)
}

/// `ALLOWED_ORIGINS`: each as a browser writes it in `Origin`.
pub(super) fn allowed_origins(vars: &Vars) -> Result<Vec<String>, ConfigError> {
    let origins = vars.list("ALLOWED_ORIGINS").unwrap_or_default();
    origins
        .iter()
        .map(|o| origin("ALLOWED_ORIGINS", o))
        .collect()
}

/// `ALLOWED_HOSTS`: host names (no port) accepted in `Host`, lower case.
pub(super) fn allowed_hosts(vars: &Vars) -> Result<Vec<String>, ConfigError> {
    let hosts = vars.list("ALLOWED_HOSTS").unwrap_or_default();
    hosts
        .into_iter()
        .map(|host| {
            let name = host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
            let ipv6 = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
            let valid = !host.is_empty() && (name || ipv6);
            if valid {
                Ok(host.to_ascii_lowercase())
            } else {
                Err(error(format!(
                    "ALLOWED_HOSTS: {host:?} is not a host name (give names such as uploads.example.com, no port)"
                )))
            }
        })
        .collect()
}

/// `scheme://host[:port]` in the form browsers serialize an origin:
/// host in lower case, default port left out, no trailing `/`.
fn origin(name: &str, url: &str) -> Result<String, ConfigError> {
    let endpoint = Endpoint::parse(url).map_err(|e| error(format!("{name}: {e}")))?;
    if !endpoint.base_path().is_empty() {
        return Err(error(format!(
            "{name}: {url:?} has a path; give only http(s)://host[:port]"
        )));
    }
    Ok(endpoint.to_string())
}

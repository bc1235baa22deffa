//! ECS task roles and EKS Pod Identity: `GET` a link-local (or loopback)
//! URL, with an `Authorization` token that may live in a rotated file.
//!
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (ECS) wins over
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` (EKS Pod Identity), as documented
//! by the AWS SDKs. Over plain HTTP, a full URI may only name a loopback
//! address, `localhost`, or the ECS and EKS agents' addresses: anything else
//! would send the token to whoever answers there.

use super::client::{self, Failure};
use super::document::Document;
use super::{Error, Fetched};
use crate::s3::Endpoint;
use crate::server::config::Vars;
use hyper::Method;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

const ECS_HOST: &str = "http://169.254.170.2";
/// Hosts a plain-HTTP full URI may name besides loopback addresses.
const ALLOWED_HOSTS: [&str; 4] = [
    "169.254.170.2",
    "169.254.170.23",
    "[fd00:ec2::23]",
    "localhost",
];

/// Where the container agent serves credentials, and how to authorize.
#[derive(Clone)]
pub struct ContainerEndpoint {
    url: Endpoint,
    /// The path as written, `/` when there is none.
    path: String,
    token: Token,
}

#[derive(Clone)]
enum Token {
    None,
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    Value(String),
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, read again on every fetch:
    /// EKS rotates it.
    File(PathBuf),
}

impl ContainerEndpoint {
    /// The endpoint the environment names, if any.
    pub fn from_vars(vars: &Vars) -> Result<Option<ContainerEndpoint>, Error> {
        let url = if let Some(relative) = vars.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let url = format!("{ECS_HOST}/{}", relative.trim_start_matches('/'));
            Endpoint::parse(&url)
                .map_err(|e| Error(format!("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: {e}")))?
        } else if let Some(full) = vars.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            let fail = |why: String| Error(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI: {why}"));
            let url = Endpoint::parse(full).map_err(|e| fail(e.to_string()))?;
            if url.is_https() {
                return Err(fail(
                    "https is not supported (presign has no TLS); EKS Pod Identity and ECS \
                     agents answer on plain http"
                        .into(),
                ));
            }
            if !host_allowed(url.host()) {
                return Err(fail(format!(
                    "host {} is not allowed over plain http: only loopback addresses, localhost, \
                     169.254.170.2, 169.254.170.23 and fd00:ec2::23",
                    url.host()
                )));
            }
            url
        } else {
            return Ok(None);
        };
        let token = match (
            vars.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            vars.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        ) {
            (Some(file), _) => Token::File(PathBuf::from(file)),
            (None, Some(value)) => Token::Value(value.to_owned()),
            (None, None) => Token::None,
        };
        let path = match url.base_path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        };
        Ok(Some(ContainerEndpoint { url, path, token }))
    }

    /// Asks the agent for credentials.
    pub async fn fetch(&self) -> Result<Fetched, Error> {
        let fail = |why: String| Error(format!("container credentials from {self}: {why}"));
        let token = match &self.token {
            Token::None => None,
            Token::Value(value) => Some(value.clone()),
            Token::File(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                fail(format!(
                    "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {e}",
                    path.display()
                ))
            })?),
        };
        // A trailing newline is how files end; one inside would split the header.
        let token = token.map(|t| t.trim_end().to_owned());
        if token.as_deref().is_some_and(|t| t.contains(['\r', '\n'])) {
            return Err(fail(
                "the authorization token has a line break inside".into(),
            ));
        }
        let mut headers = vec![("accept", "application/json")];
        if let Some(token) = token.as_deref() {
            headers.push(("authorization", token));
        }
        let answer = client::send(Method::GET, &self.url, &self.path, &headers)
            .await
            .map_err(|e| match e {
                Failure::ConnectTimeout | Failure::Io(_) => fail(format!(
                    "{e}; is the ECS agent or the EKS Pod Identity agent running?"
                )),
                Failure::ReadTimeout => fail(e.to_string()),
            })?;
        if !answer.status.is_success() {
            return Err(fail(format!(
                "{}: {}",
                answer.status,
                answer.body_excerpt()
            )));
        }
        let document = Document::parse(&answer.body).map_err(fail)?;
        if document.string("AccessKeyId").is_none() {
            if let Some(code) = document.string("code") {
                let message = document.string("message").unwrap_or("");
                return Err(fail(format!("{code}: {message}")));
            }
        }
        document.credentials("Token", false).map_err(fail)
    }
}

fn host_allowed(host: &str) -> bool {
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    ALLOWED_HOSTS.contains(&host) || ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The URL, never the token.
impl fmt::Display for ContainerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.url.scheme(),
            self.url.authority(self.url.host()),
            self.url.base_path()
        )
    }
}

impl fmt::Debug for ContainerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = match &self.token {
            Token::None => "none",
            Token::Value(_) => "<redacted>",
            Token::File(_) => "from file",
        };
        f.debug_struct("ContainerEndpoint")
            .field("url", &self.to_string())
            .field("token", &token)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_hosts() {
        for ok in [
            "127.0.0.1",
            "127.9.9.9",
            "[::1]",
            "localhost",
            "169.254.170.23",
            "[fd00:ec2::23]",
        ] {
            assert!(host_allowed(ok), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "example.com",
            "169.254.169.254",
            "localhost.evil.example",
        ] {
            assert!(!host_allowed(bad), "{bad}");
        }
    }
}

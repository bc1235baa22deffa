//! EC2 instance metadata, IMDSv2 only: `PUT /latest/api/token`, then the
//! role name, then the role's credentials, each `GET` carrying the token.
//!
//! A 401 means the token is no longer good: one new token, one more try.
//! No IMDSv1 fallback: instances that require v2 are the norm, and a v1
//! answer would hide a misconfiguration. A token `PUT` that times out is
//! the classic container-on-EC2 hop-limit problem, and the error says so.

use super::client::{self, Failure};
use super::document::Document;
use super::profile::Profile;
use super::{Error, Fetched};
use crate::s3::{Endpoint, InvalidRegion};
use crate::server::config::Vars;
use hyper::{Method, StatusCode};
use std::fmt;

const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// Six hours, the most IMDS allows and what the AWS SDKs ask for.
const TOKEN_TTL: &str = "21600";
const ROLES: &str = "/latest/meta-data/iam/security-credentials/";

/// The instance metadata service.
#[derive(Debug, Clone)]
pub struct Imds {
    base: Endpoint,
    /// Whether the region comes from IMDS (none was configured).
    pub region_from_imds: bool,
}

impl Imds {
    /// IMDS as the environment configures it; `None` when
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub fn from_vars(vars: &Vars, profile: &Profile) -> Result<Option<Imds>, Error> {
        if vars
            .get("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        let base = match (
            vars.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .or_else(|| profile.get("ec2_metadata_service_endpoint")),
            vars.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
                .or_else(|| profile.get("ec2_metadata_service_endpoint_mode")),
        ) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(mode)) if mode.eq_ignore_ascii_case("ipv6") => IPV6_ENDPOINT.to_owned(),
            (None, Some(mode)) if mode.eq_ignore_ascii_case("ipv4") => DEFAULT_ENDPOINT.to_owned(),
            (None, Some(mode)) => {
                return Err(Error(format!(
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE={mode:?}: expected IPv4 or IPv6"
                )))
            }
            (None, None) => DEFAULT_ENDPOINT.to_owned(),
        };
        let base = Endpoint::parse(&base)
            .map_err(|e| Error(format!("AWS_EC2_METADATA_SERVICE_ENDPOINT: {e}")))?;
        if base.is_https() {
            return Err(Error(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT: https is not supported (presign has no TLS)"
                    .into(),
            ));
        }
        let region_from_imds = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .all(|v| vars.get(v).is_none())
            && profile.get("region").is_none();
        Ok(Some(Imds {
            base,
            region_from_imds,
        }))
    }

    /// The instance role's credentials.
    pub async fn fetch(&self) -> Result<Fetched, Error> {
        let mut session = Session::start(self).await?;
        let roles = session.get(ROLES).await?;
        if roles.0 == StatusCode::NOT_FOUND {
            return Err(self.fail(
                "no IAM role is attached to this instance: attach an instance profile".into(),
            ));
        }
        let body = session.ok(roles)?;
        let role = body.lines().next().unwrap_or("").trim().to_owned();
        if role.is_empty() || role.contains(['/', '?', '#', '%']) {
            return Err(self.fail("the instance's role name is empty or not a name".into()));
        }
        let answer = session.get(&format!("{ROLES}{role}")).await?;
        let body = session.ok(answer)?;
        let document = Document::parse(body.as_bytes()).map_err(|e| self.fail(e))?;
        if let Some(code) = document.string("Code").filter(|c| *c != "Success") {
            let message = document.string("Message").unwrap_or("");
            return Err(self.fail(format!("role {role}: {code}: {message}")));
        }
        document
            .credentials("Token", false)
            .map_err(|e| self.fail(format!("role {role}: {e}")))
    }

    /// The instance's region (`placement/region`).
    pub async fn region(&self) -> Result<String, Error> {
        let mut session = Session::start(self).await?;
        let answer = session.get("/latest/meta-data/placement/region").await?;
        let region = session.ok(answer)?.trim().to_owned();
        InvalidRegion::check(&region).map_err(|e| self.fail(format!("placement/region {e}")))?;
        Ok(region)
    }

    fn fail(&self, why: String) -> Error {
        Error(format!("EC2 instance metadata at {self}: {why}"))
    }

    /// `path` under the endpoint's own path, if it has one.
    fn path(&self, path: &str) -> String {
        format!("{}{path}", self.base.base_path())
    }
}

/// A token and the requests made with it.
struct Session<'a> {
    imds: &'a Imds,
    token: String,
    renewed: bool,
}

impl<'a> Session<'a> {
    async fn start(imds: &'a Imds) -> Result<Session<'a>, Error> {
        Ok(Session {
            token: token(imds).await?,
            imds,
            renewed: false,
        })
    }

    /// `GET path` with the token; on a 401, once more with a new token.
    async fn get(&mut self, path: &str) -> Result<(StatusCode, String), Error> {
        let full_path = self.imds.path(path);
        loop {
            let answer = client::send(
                Method::GET,
                &self.imds.base,
                &full_path,
                &[("x-aws-ec2-metadata-token", &self.token)],
            )
            .await
            .map_err(|e| self.imds.fail(format!("GET {path}: {e}")))?;
            if answer.status == StatusCode::UNAUTHORIZED && !self.renewed {
                self.renewed = true;
                self.token = token(self.imds).await?;
                continue;
            }
            let body = String::from_utf8_lossy(&answer.body).into_owned();
            if !answer.status.is_success() && answer.status != StatusCode::NOT_FOUND {
                return Err(self.imds.fail(format!(
                    "GET {path}: {}: {}",
                    answer.status,
                    answer.body_excerpt()
                )));
            }
            return Ok((answer.status, body));
        }
    }

    fn ok(&self, (status, body): (StatusCode, String)) -> Result<String, Error> {
        if status.is_success() {
            Ok(body)
        } else {
            Err(self.imds.fail(format!("{status}")))
        }
    }
}

async fn token(imds: &Imds) -> Result<String, Error> {
    let answer = client::send(
        Method::PUT,
        &imds.base,
        &imds.path("/latest/api/token"),
        &[("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL)],
    )
    .await
    .map_err(|e| match e {
        Failure::ReadTimeout => imds.fail(format!(
            "the IMDSv2 token request got {e}: in a container on EC2, raise the instance's \
             metadata hop limit to 2 (aws ec2 modify-instance-metadata-options \
             --http-put-response-hop-limit 2), or set AWS_EC2_METADATA_DISABLED=true off EC2"
        )),
        _ => imds.fail(format!(
            "the IMDSv2 token request failed: {e} (not on EC2? set credentials, or \
             AWS_EC2_METADATA_DISABLED=true)"
        )),
    })?;
    if !answer.status.is_success() {
        return Err(imds.fail(format!(
            "the IMDSv2 token request was answered {}{}",
            answer.status,
            if answer.status == StatusCode::FORBIDDEN {
                " (IMDS is disabled on this instance)"
            } else {
                ""
            }
        )));
    }
    let token = String::from_utf8(answer.body.to_vec())
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| imds.fail("the IMDSv2 token is empty or not text".into()))?;
    Ok(token)
}

impl fmt::Display for Imds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.base.scheme(),
            self.base.authority(self.base.host()),
            self.base.base_path()
        )
    }
}

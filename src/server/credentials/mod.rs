//! Where the server's and the CLI's AWS credentials come from, in the
//! order the AWS SDKs use:
//!
//! | file | provider |
//! | --- | --- |
//! | this one | the chain: [`Source::resolve`] picks the first configured provider |
//! | [`profile`] | `~/.aws/credentials` and `~/.aws/config`: static keys or `credential_process` |
//! | `process` | runs a profile's `credential_process` |
//! | `container` | ECS task roles and EKS Pod Identity (`AWS_CONTAINER_CREDENTIALS_*`) |
//! | `imds` | EC2 instance metadata, IMDSv2 only |
//! | `client` | the plain-HTTP client the last two share: timeouts, retries |
//! | `document` | their JSON answers and RFC 3339 expiry times |
//! | [`refresh`] | the current signer, swapped in the background before expiry |
//!
//! A provider that is not configured hands over to the next one. A
//! provider that is configured but fails stops the start with one line
//! naming it: never a silent fall-through to another identity. Secrets
//! (secret keys, session tokens, authorization tokens) never appear in an
//! error, a log line or `Debug`.

mod client;
mod container;
mod document;
mod imds;
mod process;
pub mod profile;
pub mod refresh;

use super::config::Vars;
use crate::sigv4::Credentials;
use std::fmt;
use time::OffsetDateTime;

pub use container::ContainerEndpoint;
pub use imds::Imds;
pub use profile::Profile;

/// Credentials and, for temporary ones, when they stop working.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Who signs.
    pub credentials: Credentials,
    /// `None` for long-term keys.
    pub expires: Option<OffsetDateTime>,
}

/// The provider the chain chose. More may come: match with a `_` arm.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    Environment(Credentials),
    /// Static keys of a profile.
    Profile {
        /// The profile's name.
        name: String,
        /// Its keys.
        credentials: Credentials,
    },
    /// A profile's `credential_process`, run at start and before expiry.
    Process {
        /// The profile's name.
        profile: String,
        /// The command line, run by `sh -c`.
        command: String,
    },
    /// ECS or EKS Pod Identity.
    Container(ContainerEndpoint),
    /// EC2 instance metadata.
    Imds(Imds),
}

/// A provider that is configured but failed, or no provider at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Profile keys that select a way of getting credentials presign does not
/// implement: refusing them beats signing as someone else.
const UNSUPPORTED: [&str; 6] = [
    "role_arn",
    "source_profile",
    "credential_source",
    "sso_session",
    "sso_start_url",
    "web_identity_token_file",
];

impl Source {
    /// The first configured provider: environment keys, then the profile
    /// (`profile`, whose name came from `AWS_PROFILE` or `--profile`),
    /// then the container endpoint, then EC2 instance metadata.
    pub fn resolve(vars: &Vars, profile: &Profile) -> Result<Source, Error> {
        let key_id = vars.get("AWS_ACCESS_KEY_ID");
        let secret = vars.get("AWS_SECRET_ACCESS_KEY");
        match (key_id, secret) {
            (Some(id), Some(secret)) => {
                let mut credentials = Credentials::new(id, secret);
                if let Some(token) = vars.get("AWS_SESSION_TOKEN") {
                    credentials = credentials.with_session_token(token);
                }
                return Ok(Source::Environment(checked(
                    credentials,
                    "AWS_ACCESS_KEY_ID",
                )?));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error(
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: only one is set; set both, \
                     or neither to use a profile, the container or the instance credentials"
                        .into(),
                ))
            }
            (None, None) => {}
        }
        if let Some(source) = profile.source()? {
            return Ok(source);
        }
        if let Some(endpoint) = ContainerEndpoint::from_vars(vars)? {
            return Ok(Source::Container(endpoint));
        }
        if let Some(imds) = Imds::from_vars(vars, profile)? {
            return Ok(Source::Imds(imds));
        }
        Err(Error(
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile in \
             ~/.aws/credentials (AWS_PROFILE), or run where a container or instance role \
             provides them (AWS_EC2_METADATA_DISABLED is set)"
                .into(),
        ))
    }

    /// Gets the credentials (for the static sources: returns them).
    pub async fn fetch(&self) -> Result<Fetched, Error> {
        let fetched = match self {
            Source::Environment(credentials) | Source::Profile { credentials, .. } => Fetched {
                credentials: credentials.clone(),
                expires: None,
            },
            Source::Process { profile, command } => process::run(profile, command).await?,
            Source::Container(endpoint) => endpoint.fetch().await?,
            Source::Imds(imds) => imds.fetch().await?,
        };
        checked(fetched.credentials.clone(), &self.to_string())?;
        Ok(fetched)
    }

    /// The first [`fetch`](Source::fetch), at start. IMDS is reached only
    /// when nothing else is configured, and its failure says that too.
    pub async fn fetch_first(&self) -> Result<Fetched, Error> {
        self.fetch().await.map_err(|e| match self {
            Source::Imds(_) => Error(format!(
                "none in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the profile or a container \
                 endpoint, and {e}"
            )),
            _ => e,
        })
    }

    /// The static keys, when the source is the environment or a profile.
    pub fn static_credentials(&self) -> Option<&Credentials> {
        match self {
            Source::Environment(c) | Source::Profile { credentials: c, .. } => Some(c),
            _ => None,
        }
    }
}

/// Refuses an access key id that would split the credential scope.
fn checked(credentials: Credentials, from: &str) -> Result<Credentials, Error> {
    if credentials.access_key_id().contains('/') || credentials.access_key_id().is_empty() {
        return Err(Error(format!(
            "{from}: the access key id is empty or has a '/'"
        )));
    }
    Ok(credentials)
}

/// Names the provider, never a secret: for the banner and log lines.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Environment(c) => {
                write!(f, "environment (access key {})", c.access_key_id())
            }
            Source::Profile { name, credentials } => write!(
                f,
                "profile {name} (access key {})",
                credentials.access_key_id()
            ),
            Source::Process { profile, .. } => write!(f, "credential_process of profile {profile}"),
            Source::Container(endpoint) => write!(f, "container endpoint {endpoint}"),
            Source::Imds(imds) => write!(f, "EC2 instance metadata at {imds}"),
        }
    }
}

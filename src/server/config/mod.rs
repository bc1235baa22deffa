//! Configuration: environment first, then `.env`, then the AWS profile files.
//!
//! Everything is read once at start. A mistake stops the start with one
//! line that says what to fix ([`ConfigError`]); nothing here panics.

mod access;
pub(crate) mod files;
mod limits;
pub mod multipart;
pub mod policy;
mod resize;

pub use access::ApiToken;
pub use limits::Limits;
pub use multipart::Multipart;
pub use policy::{is_media_type, UploadPolicy};
pub use resize::Resize;

use super::credentials::{Profile, Source};
use crate::s3::{AddressingStyle, Bucket, Endpoint, InvalidRegion};
use crate::sigv4::Credentials;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where uploads go.
#[derive(Debug, Clone)]
pub enum Storage {
    /// A real S3 (or S3-compatible) bucket.
    S3 {
        /// The bucket and its endpoint.
        bucket: Bucket,
        /// Where the credentials that sign come from.
        credentials: Source,
    },
    /// The built-in local bucket, served by this server under `/s3/`.
    Local {
        /// Where objects are stored.
        dir: PathBuf,
        /// Keys the local bucket verifies presigned URLs against.
        credentials: Credentials,
        /// Whether the keys were generated at start (and die with the process).
        generated_credentials: bool,
        /// The region the local bucket claims.
        region: String,
    },
}

/// The whole configuration of a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where uploads go.
    pub storage: Storage,
    /// What may be uploaded.
    pub policy: UploadPolicy,
    /// Multipart uploads: threshold, part size, ticket key.
    pub multipart: Multipart,
    /// Protection.
    pub limits: Limits,
    /// Whether and how the page shrinks oversized images before uploading.
    pub resize: Option<Resize>,
    /// Origins besides this server's own that may call the API
    /// (answered with CORS headers).
    pub allowed_origins: Vec<String>,
    /// `Host` names accepted besides loopback ones and `PUBLIC_URL`'s; when
    /// empty and listening on loopback, other names are refused (DNS
    /// rebinding).
    pub allowed_hosts: Vec<String>,
    /// When set, every `POST /api/…` needs `Authorization: Bearer <token>`.
    pub api_token: Option<ApiToken>,
    /// When set, `GET /metrics` answers with `Authorization: Bearer
    /// <token>`; when not, it does not exist.
    pub metrics_token: Option<ApiToken>,
    /// The base URL browsers reach this server at, when it differs from
    /// the `Host` they send (used for local-bucket URLs).
    pub public_url: Option<String>,
    /// One line per request on stderr, in this format.
    pub access_log: AccessLogFormat,
    /// Lines of `.env` and the AWS files that were ignored, for the banner.
    pub warnings: Vec<String>,
}

/// `ACCESS_LOG`: the format of the line written for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// No access log.
    Off,
    /// `time client method path status bytes duration`, space-separated.
    Plain,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A configuration mistake, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn error(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// Variables that make up one identity each: taken all from the
/// environment or all from `.env`.
const IDENTITIES: [&[&str]; 2] = [
    &[
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ],
    &[
        "LOCAL_BUCKET_ACCESS_KEY_ID",
        "LOCAL_BUCKET_SECRET_ACCESS_KEY",
    ],
];

/// The variables configuration is read from: the environment over `.env`.
/// An empty environment variable counts as unset, so it does not hide the
/// `.env` value.
#[derive(Clone, Default)]
pub struct Vars {
    vars: HashMap<String, String>,
    /// Lines of `.env` that were ignored.
    warnings: Vec<String>,
}

/// Names only: the values include secrets.
impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Vars")
            .field("names", &names)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl Vars {
    /// `environment` wins over `dotenv` (the text of a `.env` file).
    pub fn new(
        environment: impl IntoIterator<Item = (String, String)>,
        dotenv: Option<&str>,
    ) -> Self {
        let (mut vars, mut warnings) = dotenv.map(files::parse_dotenv).unwrap_or_default();
        let environment: HashMap<String, String> = environment
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        // An identity comes whole from one place: a key id from the
        // environment never meets a secret (or a stale token) from `.env`.
        for group in IDENTITIES {
            if group.iter().any(|name| environment.contains_key(*name)) {
                for name in group {
                    if vars.remove(*name).is_some() && !environment.contains_key(*name) {
                        warnings.push(format!(
                            ".env: {name} ignored: the environment sets {}, and one identity \
                             is never made of two sources",
                            group
                                .iter()
                                .filter(|n| environment.contains_key(**n))
                                .copied()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
            }
        }
        vars.extend(environment);
        Vars { vars, warnings }
    }

    /// This process's environment over `./.env`, if there is one. A `.env`
    /// that is not UTF-8 (UTF-16, a Latin-1 byte) is an error, not ignored.
    pub fn from_process() -> Result<Self, ConfigError> {
        let dotenv = match std::fs::read(".env") {
            Ok(bytes) => Some(
                files::decode(&bytes)
                    .map_err(|e| error(format!(".env: {e}")))?
                    .to_owned(),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(error(format!(".env: cannot be read: {e}"))),
        };
        Ok(Vars::new(std::env::vars(), dotenv.as_deref()))
    }

    /// A non-empty variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| error(format!("{name}={v:?} is not {what}; fix or unset it"))),
        }
    }

    fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(error(format!("{name}={v:?} is not true or false"))),
        }
    }

    fn list(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }
}

impl Config {
    /// Reads the configuration. `listen` (from `--listen`) wins over
    /// `HOST`/`PORT`.
    pub fn load(vars: &Vars, listen: Option<&str>) -> Result<Config, ConfigError> {
        let listen = match listen {
            Some(addr) => addr.to_owned(),
            None => {
                let host = vars.get("HOST").unwrap_or("127.0.0.1");
                let port: u16 = vars.parse("PORT", 3000, "a port number")?;
                if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
        };
        let listen: SocketAddr = listen.parse().map_err(|_| {
            error(format!(
                "listen address {listen:?} is not IP:PORT (e.g. 127.0.0.1:3000)"
            ))
        })?;
        let profiles = Profile::read(vars, None).map_err(|e| error(e.0))?;
        let region = vars
            .get("AWS_REGION")
            .or_else(|| vars.get("AWS_DEFAULT_REGION"))
            .or_else(|| profiles.get("region"))
            .unwrap_or("us-east-1")
            .to_owned();
        InvalidRegion::check(&region).map_err(|e| error(format!("AWS_REGION={e}")))?;
        // Checked even without a bucket: a typo should not wait for the day
        // a bucket is configured.
        let force_path_style = match vars.get("S3_FORCE_PATH_STYLE") {
            Some(_) => Some(vars.flag("S3_FORCE_PATH_STYLE", false)?),
            None => None,
        };
        let storage = match vars.get("S3_BUCKET_NAME") {
            Some(name) => s3_storage(vars, &profiles, name, &region, force_path_style)?,
            None => local_storage(vars, &region)?,
        };
        Ok(Config {
            listen,
            storage,
            policy: UploadPolicy::load(vars)?,
            multipart: Multipart::load(vars)?,
            limits: Limits::load(vars)?,
            resize: Resize::load(vars)?,
            allowed_origins: access::allowed_origins(vars)?,
            allowed_hosts: access::allowed_hosts(vars)?,
            api_token: access::api_token(vars)?,
            metrics_token: access::metrics_token(vars)?,
            public_url: access::public_url(vars)?,
            access_log: access_log_format(vars)?,
            warnings: vars
                .warnings
                .iter()
                .chain(&profiles.warnings)
                .cloned()
                .collect(),
        })
    }

    /// The effective configuration for the start-up banner, secrets redacted.
    pub fn summary(&self) -> String {
        let storage = match &self.storage {
            Storage::S3 {
                bucket,
                credentials,
            } => format!(
                "bucket {} at {} ({:?} style, region {}), credentials from {credentials}",
                bucket.name(),
                bucket.endpoint(),
                bucket.style(),
                bucket.region(),
            ),
            Storage::Local {
                dir,
                generated_credentials,
                ..
            } => format!(
                "local bucket in {} (no S3_BUCKET_NAME set){}",
                dir.display(),
                if *generated_credentials {
                    ", keys generated for this run"
                } else {
                    ""
                }
            ),
        };
        let p = &self.policy;
        format!(
            "storage: {storage}\nuploads: types {}; max {} bytes; URLs valid {} s; keys under {:?}; if-none-match {}; {}\n\
             multipart: above {} bytes, parts of {} bytes, tickets valid {} s{}\n\
             limits: {} API requests/min per IP; {} connections; api token {}",
            p.allowed_types.join(", "),
            p.max_bytes,
            p.expires_seconds,
            p.key_prefix,
            if p.if_none_match { "on" } else { "off" },
            match &self.resize {
                None => "page resizing off".to_owned(),
                Some(r) => format!(
                    "page resizes to {} pixels at quality {}%",
                    r.max_pixels, r.quality_percent
                ),
            },
            self.multipart.threshold_bytes,
            self.multipart.part_bytes,
            self.multipart.ticket_seconds,
            if self.multipart.generated_ticket_key {
                ", key generated for this run"
            } else {
                ""
            },
            self.limits.rate_per_minute,
            self.limits.max_connections,
            if self.api_token.is_some() { "required" } else { "off" },
        )
    }
}

fn s3_storage(
    vars: &Vars,
    profile: &Profile,
    name: &str,
    region: &str,
    force_path_style: Option<bool>,
) -> Result<Storage, ConfigError> {
    let credentials = Source::resolve(vars, profile)
        .map_err(|e| error(format!("credentials for S3_BUCKET_NAME={name}: {e}")))?;
    let (endpoint, default_path_style) = match vars.get("S3_ENDPOINT") {
        Some(url) => (
            Endpoint::parse(url).map_err(|e| error(format!("S3_ENDPOINT: {e}")))?,
            true,
        ),
        None => (Endpoint::aws(region), false),
    };
    let style = if force_path_style.unwrap_or(default_path_style) {
        AddressingStyle::Path
    } else {
        AddressingStyle::VirtualHosted
    };
    let bucket = Bucket::new(endpoint, name, region, style)
        .map_err(|e| error(format!("S3_BUCKET_NAME: {e}")))?;
    Ok(Storage::S3 {
        bucket,
        credentials,
    })
}

fn access_log_format(vars: &Vars) -> Result<AccessLogFormat, ConfigError> {
    match vars
        .get("ACCESS_LOG")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("1" | "true" | "yes" | "on" | "plain") => Ok(AccessLogFormat::Plain),
        Some("0" | "false" | "no" | "off") => Ok(AccessLogFormat::Off),
        Some("json") => Ok(AccessLogFormat::Json),
        Some(v) => Err(error(format!(
            "ACCESS_LOG={v:?} is not on, off, plain or json"
        ))),
    }
}

fn local_storage(vars: &Vars, region: &str) -> Result<Storage, ConfigError> {
    let key_id = vars.get("LOCAL_BUCKET_ACCESS_KEY_ID");
    let secret = vars.get("LOCAL_BUCKET_SECRET_ACCESS_KEY");
    let (credentials, generated) = match (key_id, secret) {
        (Some(id), Some(_)) if id.contains('/') => {
            return Err(error(
                "LOCAL_BUCKET_ACCESS_KEY_ID: an access key id has no '/'",
            ))
        }
        (Some(id), Some(secret)) => (Credentials::new(id, secret), false),
        (None, None) => {
            let random = |what| {
                move |e: std::io::Error| {
                    error(format!("cannot generate the local bucket's {what}: {e}"))
                }
            };
            let id = hex::encode_upper(super::keys::os_random::<8>().map_err(random("key id"))?);
            let id = format!("LOCAL{}", &id[..15]);
            let secret = hex::encode(super::keys::os_random::<32>().map_err(random("secret"))?);
            (Credentials::new(id, secret), true)
        }
        _ => return Err(error(
            "set both LOCAL_BUCKET_ACCESS_KEY_ID and LOCAL_BUCKET_SECRET_ACCESS_KEY, or neither",
        )),
    };
    Ok(Storage::Local {
        dir: PathBuf::from(vars.get("LOCAL_BUCKET_DIR").unwrap_or("./data")),
        credentials,
        generated_credentials: generated,
        region: region.to_owned(),
    })
}

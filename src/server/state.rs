//! What every request handler shares, built once at start.

use super::access_log::AccessLog;
use super::assets::Assets;
use super::config::{Config, Resize, Storage};
use super::credentials::refresh::{self, LiveSigner};
use super::credentials::Source;
use super::hosts::AllowedHosts;
use super::keys::KeyGenerator;
use super::metrics::Metrics;
use super::rate_limit::RateLimiter;
use crate::latest::Latest;
use crate::s3::{AddressingStyle, Bucket, Endpoint};
use crate::sigv4::Signer;
use std::path::PathBuf;
use std::sync::Arc;

/// The local bucket's name in its URLs: `/s3/local/<key>`.
pub const LOCAL_BUCKET: &str = "local";
/// Where the local bucket is mounted on this server.
pub const LOCAL_PREFIX: &str = "/s3";

/// Wrong `API_TOKEN`s accepted per client address per minute.
pub const FAILED_TOKENS_PER_MINUTE: u32 = 10;

/// Shared state of a running server.
#[derive(Debug)]
pub struct State {
    /// The configuration it was started with.
    pub config: Config,
    /// Signs upload and preview URLs (for the local bucket: also verifies
    /// them); replaced in the background when temporary credentials expire.
    pub signer: Arc<LiveSigner>,
    /// The local bucket's directory, when there is no S3 bucket.
    pub local_dir: Option<PathBuf>,
    /// Per-IP limiter of the API's `POST`s: one token per request, a
    /// batch or a request for 100 part URLs included.
    pub limiter: RateLimiter,
    /// Per-IP limiter of wrong `API_TOKEN`s.
    pub failed_tokens: RateLimiter,
    /// Which `Host` values are answered.
    pub hosts: AllowedHosts,
    /// The embedded page, with its security headers.
    pub assets: Assets,
    /// `GET /api/config`'s body, which never changes.
    pub config_json: String,
    /// Names new objects.
    pub keys: KeyGenerator,
    /// Where each request's line goes, unless `ACCESS_LOG=off`.
    pub access_log: Option<AccessLog>,
    /// The counters `GET /metrics` shows.
    pub metrics: Metrics,
    /// The S3 bucket URLs are signed for; `None` for the local bucket.
    s3_bucket: Option<Arc<Bucket>>,
    /// The local bucket, built for the last `Host` it was reached at.
    local_bucket: Latest<String, Arc<Bucket>>,
}

impl State {
    /// Prepares the state: gets the credentials (and starts refreshing
    /// them), prepares the local bucket's directory ([`super::local_bucket::prepare`]). A credential
    /// provider that fails stops the start with its one-line reason.
    pub async fn start(mut config: Config) -> std::io::Result<Self> {
        let (signer, local_dir, bucket_origin) = match &mut config.storage {
            Storage::S3 {
                bucket,
                credentials: source,
            } => {
                let fetched = source.fetch_first().await.map_err(std::io::Error::other)?;
                if let Source::Imds(imds) = source {
                    if imds.region_from_imds {
                        *bucket = in_region(
                            bucket,
                            &imds.region().await.map_err(std::io::Error::other)?,
                        )?;
                    }
                }
                let signer = LiveSigner::new(
                    Signer::new(fetched.credentials, bucket.region(), "s3"),
                    fetched.expires,
                );
                let now = time::OffsetDateTime::now_utc();
                if let Err(refresh::Expiring(at)) =
                    signer.current().lifetime(refresh::MIN_URL_SECONDS, now)
                {
                    return Err(std::io::Error::other(format!(
                        "the credentials from {source} expire at {} (too soon to sign with): check the clock, or the provider",
                        super::api::rfc3339(at)
                    )));
                }
                let signer = Arc::new(signer);
                refresh::spawn(&signer, source.clone());
                (signer, None, Some(bucket.origin()))
            }
            Storage::Local {
                dir,
                credentials,
                region,
                ..
            } => {
                super::local_bucket::prepare(dir)?;
                // No URL for an upload works after its ticket and then the
                // last URL signed with it have expired.
                super::local_multipart::spawn_sweeper(
                    dir.clone(),
                    std::time::Duration::from_secs(
                        u64::from(config.multipart.ticket_seconds)
                            + u64::from(config.policy.expires_seconds),
                    ),
                );
                let origin = config
                    .public_url
                    .as_deref()
                    .and_then(|u| Endpoint::parse(u).ok())
                    .map(|e| {
                        let mut origin = e.to_string();
                        origin.truncate(origin.len() - e.base_path().len());
                        origin
                    });
                let signer = Signer::new(credentials.clone(), region.as_str(), "s3");
                (
                    Arc::new(LiveSigner::new(signer, None)),
                    Some(dir.clone()),
                    origin,
                )
            }
        };
        let policy = &config.policy;
        let types: Vec<String> = policy
            .allowed_types
            .iter()
            .map(|t| super::http::json_string(t))
            .collect();
        let config_json = format!(
            "{{\"maxBytes\":{},\"allowedTypes\":[{}],\"expiresSeconds\":{},\
             \"multipartThresholdBytes\":{},\"multipartPartBytes\":{},\"resize\":{}}}",
            policy.max_bytes,
            types.join(","),
            policy.expires_seconds,
            config.multipart.threshold_bytes,
            config.multipart.part_bytes,
            Resize::json(config.resize.as_ref())
        );
        Ok(State {
            limiter: RateLimiter::new(config.limits.rate_per_minute),
            failed_tokens: RateLimiter::new(FAILED_TOKENS_PER_MINUTE),
            hosts: AllowedHosts::new(&config),
            assets: Assets::new(bucket_origin.as_deref()),
            signer,
            local_dir,
            config_json,
            keys: KeyGenerator::new()?,
            access_log: AccessLog::to_stderr(config.access_log)?,
            s3_bucket: match &config.storage {
                Storage::S3 { bucket, .. } => Some(Arc::new(bucket.clone())),
                Storage::Local { .. } => None,
            },
            local_bucket: Latest::default(),
            metrics: Metrics::default(),
            config,
        })
    }

    /// The bucket to sign for. The local bucket lives on this server, so
    /// its URLs use the host the browser reached us at (or `PUBLIC_URL`).
    pub fn bucket(&self, request_host: Option<&str>) -> Option<Arc<Bucket>> {
        let Storage::Local { region, .. } = &self.config.storage else {
            return self.s3_bucket.clone();
        };
        let host = match &self.config.public_url {
            Some(url) => url.as_str(),
            None => request_host?,
        };
        self.local_bucket.try_get_or(host.to_owned(), || {
            let base = match &self.config.public_url {
                Some(url) => format!("{url}{LOCAL_PREFIX}"),
                None => format!("http://{host}{LOCAL_PREFIX}"),
            };
            let endpoint = Endpoint::parse(&base).ok()?;
            let bucket = Bucket::new(
                endpoint,
                LOCAL_BUCKET,
                region.as_str(),
                AddressingStyle::Path,
            );
            bucket.ok().map(Arc::new)
        })
    }
}

/// `bucket` in `region` (IMDS said where the instance is): on its AWS
/// endpoint unless `S3_ENDPOINT` named another.
fn in_region(bucket: &Bucket, region: &str) -> std::io::Result<Bucket> {
    let endpoint = if *bucket.endpoint() == Endpoint::aws(bucket.region()) {
        Endpoint::aws(region)
    } else {
        bucket.endpoint().clone()
    };
    Bucket::new(endpoint, bucket.name(), region, bucket.style()).map_err(std::io::Error::other)
}

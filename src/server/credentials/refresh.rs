//! The signer in use, swapped for a new one before its credentials expire.
//!
//! Requests take the current signer with a read lock held for one `Arc`
//! clone; the refresh task takes the write lock only to swap it. A refresh
//! runs in the background from 15 minutes before expiry (minus up to 3
//! minutes of jitter, so a fleet does not call at once). A failure, or an
//! endpoint that hands back the same credentials (IMDS does until about 5
//! minutes before expiry), is retried with back-off, every 10 s in the last
//! 5 minutes. Until then the current credentials keep signing; URLs are
//! capped at their remaining lifetime ([`Current::lifetime`]).

use super::{Fetched, Source};
use crate::server::api::rfc3339;
use crate::sigv4::Signer;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
use time::OffsetDateTime;

/// A URL stops working at least this long before its credentials do:
/// clocks differ, and a browser takes a moment to start the upload.
pub const SIGNING_MARGIN: time::Duration = time::Duration::seconds(60);
/// Below this, a URL is not worth signing: the server answers 503 instead.
pub const MIN_URL_SECONDS: u32 = 60;
const ADVISORY: time::Duration = time::Duration::minutes(15);
const MANDATORY: time::Duration = time::Duration::minutes(5);
const JITTER_SECONDS: u128 = 180;

/// A signer and when its credentials expire.
#[derive(Debug)]
pub struct Current {
    /// Signs with the current credentials.
    pub signer: Signer,
    /// `None` for long-term keys.
    pub expires: Option<OffsetDateTime>,
}

/// The credentials have too little life left to sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiring(pub OffsetDateTime);

impl Current {
    /// How long a URL signed at `now` may live: `requested`, or less when
    /// the credentials expire sooner (minus [`SIGNING_MARGIN`]).
    pub fn lifetime(&self, requested: u32, now: OffsetDateTime) -> Result<u32, Expiring> {
        let Some(expires) = self.expires else {
            return Ok(requested);
        };
        let usable = (expires - SIGNING_MARGIN - now).whole_seconds();
        if usable >= i64::from(requested) {
            Ok(requested)
        } else if usable >= i64::from(MIN_URL_SECONDS) {
            Ok(usable as u32)
        } else {
            Err(Expiring(expires))
        }
    }
}

/// The signer every request uses, replaceable while requests run.
#[derive(Debug)]
pub struct LiveSigner {
    current: RwLock<Arc<Current>>,
}

impl LiveSigner {
    /// Starts with `signer`, whose credentials expire at `expires`.
    pub fn new(signer: Signer, expires: Option<OffsetDateTime>) -> Self {
        LiveSigner {
            current: RwLock::new(Arc::new(Current { signer, expires })),
        }
    }

    /// The signer to use now.
    pub fn current(&self) -> Arc<Current> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn replace(&self, current: Current) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(current);
    }
}

/// Keeps `live` fresh from `source` until `live` is dropped. Does nothing
/// for credentials that do not expire.
pub fn spawn(live: &Arc<LiveSigner>, source: Source) {
    if live.current().expires.is_none() {
        return;
    }
    tokio::spawn(refresh(Arc::downgrade(live), source));
}

async fn refresh(live: Weak<LiveSigner>, source: Source) {
    let mut setbacks = 0u32;
    loop {
        let Some(expires) = live.upgrade().and_then(|l| l.current().expires) else {
            return;
        };
        tokio::time::sleep(wait(OffsetDateTime::now_utc(), expires, setbacks)).await;
        let Some(live) = live.upgrade() else {
            return;
        };
        let current = live.current();
        let until = |t: Option<OffsetDateTime>| t.map_or("never".into(), rfc3339);
        let now = OffsetDateTime::now_utc();
        match source.fetch().await {
            // Credentials already too close to expiry are no improvement,
            // whatever their key.
            Ok(Fetched {
                expires: Some(at), ..
            }) if at - SIGNING_MARGIN - now < time::Duration::seconds(MIN_URL_SECONDS.into()) => {
                setbacks += 1;
                eprintln!(
                    "presign: {source} handed out credentials that expire at {}; asking again later",
                    rfc3339(at)
                );
            }
            Ok(Fetched {
                credentials,
                expires,
            }) if expires > current.expires
                || credentials.access_key_id() != current.signer.credentials().access_key_id() =>
            {
                let signer = Signer::new(
                    credentials,
                    current.signer.region(),
                    current.signer.service(),
                );
                live.replace(Current { signer, expires });
                // Still inside the window (IMDS hands out 5-minute-old keys
                // near the end): back off rather than ask every second.
                let short_lived = expires.is_some_and(|t| t - now < ADVISORY);
                setbacks = if short_lived { setbacks + 1 } else { 0 };
                eprintln!(
                    "presign: credentials refreshed from {source}; valid until {}",
                    until(expires)
                );
            }
            Ok(_) => {
                setbacks += 1;
                eprintln!(
                    "presign: {source} handed back the same credentials (valid until {}); \
                     asking again later",
                    until(current.expires)
                );
            }
            Err(e) => {
                setbacks += 1;
                eprintln!(
                    "presign: refreshing credentials failed: {e}; signing with the current \
                     ones (valid until {}) while retrying",
                    until(current.expires)
                );
            }
        }
    }
}

/// How long to wait before the next refresh attempt.
fn wait(now: OffsetDateTime, expires: OffsetDateTime, setbacks: u32) -> Duration {
    let remaining = expires - now;
    if setbacks == 0 {
        // Replicas started together should not all ask at once.
        let random = crate::server::keys::os_random::<8>().map_or(0, u64::from_le_bytes);
        let jitter = time::Duration::seconds((u128::from(random) % JITTER_SECONDS) as i64);
        let until = remaining - ADVISORY - jitter;
        // Already in the window: a second's pause, then ask.
        return until
            .try_into()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1));
    }
    if remaining <= MANDATORY {
        return Duration::from_secs(10);
    }
    Duration::from_secs((30u64 << setbacks.min(4)).min(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::Credentials;
    use time::macros::datetime;

    fn current(expires: Option<OffsetDateTime>) -> Current {
        Current {
            signer: Signer::new(Credentials::new("AKID", "s"), "us-east-1", "s3"),
            expires,
        }
    }

    #[test]
    fn url_lifetime_is_capped_by_the_credentials() {
        let now = datetime!(2026-12-01 12:00 UTC);
        assert_eq!(current(None).lifetime(604_800, now), Ok(604_800));
        let in_4_min = current(Some(now + time::Duration::minutes(4)));
        assert_eq!(in_4_min.lifetime(300, now), Ok(180));
        assert_eq!(in_4_min.lifetime(100, now), Ok(100));
        let in_90_s = current(Some(now + time::Duration::seconds(90)));
        assert_eq!(
            in_90_s.lifetime(300, now),
            Err(Expiring(now + time::Duration::seconds(90)))
        );
    }

    #[test]
    fn refresh_waits_for_the_window_then_backs_off() {
        let now = datetime!(2026-12-01 12:00 UTC);
        let hour = wait(now, now + time::Duration::hours(1), 0);
        assert!((42 * 60..=45 * 60).contains(&hour.as_secs()), "{hour:?}");
        let soon = wait(now, now + time::Duration::minutes(10), 0);
        assert_eq!(soon, Duration::from_secs(1));
        assert_eq!(
            wait(now, now + time::Duration::minutes(10), 1),
            Duration::from_secs(60)
        );
        assert_eq!(
            wait(now, now + time::Duration::minutes(4), 3),
            Duration::from_secs(10)
        );
        assert_eq!(
            wait(now, now + time::Duration::hours(5), 9),
            Duration::from_secs(300)
        );
    }
}

//! Step 3 of SigV4: the signing key, and its cache.
//!
//! The key is four chained HMACs of the secret, the date, the region and the
//! service. It changes once a day, so deriving it for every URL would be five
//! wasted HMACs; the cache keeps it, already loaded into an HMAC state, so a
//! signature costs one HMAC of the string to sign and nothing more.

use crate::latest::Latest;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256, the only MAC SigV4 uses.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// One HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// Derives the signing key for `date` (`YYYYMMDD`), `region` and `service`.
pub(crate) fn derive(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut secret_key = Vec::with_capacity(4 + secret.len());
    secret_key.extend_from_slice(b"AWS4");
    secret_key.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&secret_key, date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// The signing key of one secret, region and service, for the most recent
/// date asked for.
#[derive(Default)]
pub(crate) struct KeyCache {
    latest: Latest<[u8; 8], HmacSha256>,
}

impl KeyCache {
    /// An HMAC state keyed with the signing key of `date`, derived on a miss.
    pub(crate) fn mac_for(
        &self,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> HmacSha256 {
        let derived = || keyed(&derive(secret, date, region, service));
        match date.as_bytes().try_into() {
            Ok(day) => self.latest.get_or(day, derived),
            // Not a YYYYMMDD date: nothing sensible to cache.
            Err(_) => derived(),
        }
    }
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_the_documented_key() {
        // AWS General Reference, "Examples of how to derive a signing key".
        let key = derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn cache_gives_the_same_key_as_derivation_across_days() {
        let cache = KeyCache::default();
        for date in ["20150830", "20150830", "20150831", "20150830"] {
            let cached = cache.mac_for("secret", date, "eu-west-1", "s3");
            let fresh = keyed(&derive("secret", date, "eu-west-1", "s3"));
            assert_eq!(
                cached.finalize().into_bytes(),
                fresh.finalize().into_bytes()
            );
        }
    }
}

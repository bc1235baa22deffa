//! Object keys for uploads: `<prefix>YYYY/MM/DD/<uuid>.<ext>`.
//!
//! The UUID is what makes a key unguessable. Asking the kernel for 16 random
//! bytes per upload costs a system call; instead, one random seed is drawn at
//! start and each id is SHA-256(seed ‖ counter): unpredictable without the
//! seed, never repeated within a process, and a fraction of the cost.
//!
//! [`is_storable`] is the rule every key of the local bucket follows, and
//! so every key this server generates.

use super::config::UploadPolicy;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// Generates upload keys.
pub struct KeyGenerator {
    seed: [u8; 32],
    counter: AtomicU64,
}

impl std::fmt::Debug for KeyGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyGenerator(<seed redacted>)")
    }
}

impl Default for KeyGenerator {
    fn default() -> Self {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        KeyGenerator {
            seed,
            counter: AtomicU64::new(0),
        }
    }
}

impl KeyGenerator {
    /// A fresh random (version 4) UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let digest = Sha256::new()
            .chain_update(self.seed)
            .chain_update(n.to_le_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// A new key for a file of `content_type` uploaded at `now`. The
    /// extension comes from the type, never from the user's file name.
    pub fn key(&self, policy: &UploadPolicy, content_type: &str, now: OffsetDateTime) -> String {
        let extension = UploadPolicy::extension(content_type);
        let mut key =
            String::with_capacity(policy.key_prefix.len() + 11 + 36 + 1 + extension.len());
        key.push_str(&policy.key_prefix);
        push_padded(&mut key, now.year().clamp(0, 9999) as u32, 4);
        key.push('/');
        push_padded(&mut key, u8::from(now.month()).into(), 2);
        key.push('/');
        push_padded(&mut key, now.day().into(), 2);
        key.push('/');
        key.push_str(
            self.uuid()
                .hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        );
        key.push('.');
        key.push_str(extension);
        key
    }
}

/// The local bucket's temporary files live in this directory, inside the
/// bucket (so the final rename stays on one file system) but outside
/// every key.
pub const TMP_DIR: &str = ".presign-tmp";

/// The longest key segment: file systems take at most 255 bytes per name.
const MAX_SEGMENT_BYTES: usize = 255;

/// Whether `key` can be stored as a file under a directory and never leave
/// it: at most 1024 bytes, no control characters or backslashes, and no
/// empty, `.`, `..` or [`TMP_DIR`] segment or one over 255 bytes.
pub fn is_storable(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key.split('/').all(|segment| {
            !matches!(segment, "" | "." | ".." | TMP_DIR) && segment.len() <= MAX_SEGMENT_BYTES
        })
}

/// Appends `value` as exactly `width` decimal digits.
pub fn push_padded(out: &mut String, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width - 1);
    while divisor > 0 {
        out.push(char::from(b'0' + ((value / divisor) % 10) as u8));
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn policy() -> UploadPolicy {
        UploadPolicy {
            allowed_types: vec![],
            max_bytes: 1,
            expires_seconds: 1,
            view_expires_seconds: 1,
            key_prefix: "uploads/".into(),
            if_none_match: true,
        }
    }

    #[test]
    fn keys_take_their_extension_from_the_type() {
        let keys = KeyGenerator::default();
        let key = keys.key(&policy(), "image/jpeg", datetime!(2026-01-02 03:04 UTC));
        assert!(key.starts_with("uploads/2026/01/02/"), "{key}");
        assert!(key.ends_with(".jpg"));
        assert_eq!(key.len(), "uploads/2026/01/02/".len() + 36 + 4);
        let odd = keys.key(
            &policy(),
            "image/x.weird+thing",
            datetime!(2026-01-02 03:04 UTC),
        );
        assert!(odd.ends_with(".bin"));
    }

    #[test]
    fn ids_are_version_4_and_never_repeat() {
        let keys = KeyGenerator::default();
        let other = KeyGenerator::default();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = keys.uuid();
            assert_eq!(id.get_version_num(), 4);
            assert!(seen.insert(id));
            assert!(
                seen.insert(other.uuid()),
                "two processes must not share ids"
            );
        }
    }
}

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
use std::hash::{BuildHasher, RandomState};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;

/// `N` bytes from the kernel's random source, for seeds and generated keys:
/// `/dev/urandom`, or where there is none (a `FROM scratch` image, an
/// empty chroot) [`hash_key_random`].
pub fn os_random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0; N];
    match std::fs::File::open("/dev/urandom").and_then(|mut random| random.read_exact(&mut bytes)) {
        Ok(()) => Ok(bytes),
        Err(urandom) => hash_key_random().map_err(|fallback| {
            std::io::Error::new(
                urandom.kind(),
                format!("cannot read /dev/urandom ({urandom}), and {fallback}"),
            )
        }),
    }
}

/// Fresh threads whose hash keys seed [`hash_key_random`]: 128 bits each.
const SEED_THREADS: u64 = 2;

/// `N` random bytes without opening a file, from the keys the standard
/// library gives every [`RandomState`], for a process with no `/dev`.
///
/// Why this is sound: on Linux the standard library fills each thread's
/// 128-bit `RandomState` key (two `u64`) once, from the `getrandom` system
/// call, the kernel's CSPRNG that also backs `/dev/urandom` (it asks with
/// `GRND_INSECURE`, which differs only in the first seconds of boot, before
/// the kernel's pool is seeded, never the case once a container runtime
/// runs). Later `RandomState`s of the same thread add 1 to the first half,
/// so one thread holds 128 bits, and a new thread draws a new key. The key
/// is not readable, but SipHash keyed with it is a pseudo-random function
/// of it: several outputs per thread carry the key's entropy, and they are
/// never shown to anyone, only hashed with SHA-256 into a 256-bit seed
/// drawn from [`SEED_THREADS`] threads (256 bits of the kernel's entropy).
/// `N` bytes are then SHA-256(seed ‖ block number) in counter mode.
///
/// The standard library does not promise that its hash keys are random on
/// every platform (some targets have fixed keys), so the threads' outputs
/// are compared: equal outputs from two fresh threads mean fixed keys, and
/// that is an error rather than a predictable seed.
pub fn hash_key_random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut seed = Sha256::new().chain_update(b"presign hash-key seed");
    let mut previous: Option<[u64; 4]> = None;
    for _ in 0..SEED_THREADS {
        let outputs = std::thread::Builder::new()
            .name("seed".into())
            .spawn(|| {
                let keys = RandomState::new();
                [0u64, 1, 2, 3].map(|i| keys.hash_one(i))
            })?
            .join()
            .map_err(|_| std::io::Error::other("the seed thread failed"))?;
        if previous == Some(outputs) {
            return Err(std::io::Error::other(
                "the standard library's hash keys are not random here",
            ));
        }
        previous = Some(outputs);
        for output in outputs {
            seed.update(output.to_le_bytes());
        }
    }
    let seed = seed.finalize();
    let mut bytes = [0u8; N];
    for (block, chunk) in (0u64..).zip(bytes.chunks_mut(32)) {
        let digest = Sha256::new()
            .chain_update(seed)
            .chain_update(block.to_le_bytes())
            .finalize();
        chunk.copy_from_slice(&digest[..chunk.len()]);
    }
    Ok(bytes)
}

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

impl KeyGenerator {
    /// A generator with a fresh seed from the kernel.
    pub fn new() -> std::io::Result<Self> {
        Ok(KeyGenerator {
            seed: os_random()?,
            counter: AtomicU64::new(0),
        })
    }

    /// Appends a fresh random (version 4) UUID, hyphenated, lower case.
    pub fn push_uuid(&self, out: &mut String) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let digest = Sha256::new()
            .chain_update(self.seed)
            .chain_update(n.to_le_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // RFC 9562: version 4 in the high nibble of byte 6, variant 0b10
        // in the high bits of byte 8.
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }

    /// A fresh random (version 4) UUID.
    pub fn uuid(&self) -> String {
        let mut out = String::with_capacity(36);
        self.push_uuid(&mut out);
        out
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
        self.push_uuid(&mut key);
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
        let keys = KeyGenerator::new().unwrap();
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
    fn hash_key_random_differs_every_time_and_balances_its_bits() {
        let draws: Vec<[u8; 40]> = (0..256).map(|_| hash_key_random().unwrap()).collect();
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert_eq!(distinct.len(), draws.len(), "no draw repeats");
        // Each of the 320 bits is set in about half of the 256 draws:
        // 128 ± 48 is over 6 standard deviations (8) either side.
        for bit in 0..40 * 8 {
            let set = draws
                .iter()
                .filter(|d| d[bit / 8] >> (bit % 8) & 1 == 1)
                .count();
            assert!(
                (80..=176).contains(&set),
                "bit {bit} set {set} times of 256"
            );
        }
        // Blocks past the first 32 bytes are not a copy of the first.
        assert!(draws.iter().all(|d| d[32..] != d[..8]));
    }

    #[test]
    fn ids_are_version_4_and_never_repeat() {
        let keys = KeyGenerator::new().unwrap();
        let other = KeyGenerator::new().unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = keys.uuid();
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
            assert!(id
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert_eq!(&id[14..15], "4", "version 4: {id}");
            assert!(
                matches!(&id[19..20], "8" | "9" | "a" | "b"),
                "RFC variant: {id}"
            );
            assert!(seen.insert(id));
            assert!(
                seen.insert(other.uuid()),
                "two processes must not share ids"
            );
        }
    }
}

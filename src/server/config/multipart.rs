//! Multipart uploads: when the page switches to them, how big a part is,
//! and the key of the upload tickets (`MULTIPART_*`).
//!
//! S3's limits decide what can work: a part is 5 MiB to 5 GiB (the last
//! may be smaller), an upload has at most 10,000 parts, an object is at
//! most 5 TiB, and one PUT takes at most 5 GiB.

use super::{error, ConfigError, Vars};

/// S3's smallest part (except the last).
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's largest part, and its largest single PUT.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// S3's largest single PUT.
pub const MAX_SINGLE_PUT_BYTES: u64 = MAX_PART_BYTES;
/// S3's most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// S3's largest object.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// The shortest `MULTIPART_TICKET_KEY` accepted.
pub const MIN_TICKET_KEY_LEN: usize = 32;

/// The multipart settings.
#[derive(Clone)]
pub struct Multipart {
    /// Files larger than this go multipart (announced in `/api/config`).
    pub threshold_bytes: u64,
    /// The part size, unless a file needs larger parts to fit in 10,000.
    pub part_bytes: u64,
    /// The HMAC key of upload tickets.
    pub ticket_key: Vec<u8>,
    /// Whether the key was generated at start (tickets die with the process).
    pub generated_ticket_key: bool,
    /// How long a ticket lets its upload be signed for.
    pub ticket_seconds: u32,
}

/// The key stays out of `Debug` output.
impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Multipart")
            .field("threshold_bytes", &self.threshold_bytes)
            .field("part_bytes", &self.part_bytes)
            .field("ticket_key", &"<redacted>")
            .field("generated_ticket_key", &self.generated_ticket_key)
            .field("ticket_seconds", &self.ticket_seconds)
            .finish()
    }
}

impl Multipart {
    pub(super) fn load(vars: &Vars) -> Result<Self, ConfigError> {
        let bytes = |name: &str, default: u64| -> Result<u64, ConfigError> {
            vars.parse(name, default, "a whole number of bytes")
        };
        let threshold_bytes = bytes("MULTIPART_THRESHOLD_BYTES", 16 * 1024 * 1024)?;
        if !(1..=MAX_SINGLE_PUT_BYTES).contains(&threshold_bytes) {
            return Err(error(format!(
                "MULTIPART_THRESHOLD_BYTES must be from 1 to {MAX_SINGLE_PUT_BYTES} \
                 (5 GiB): files above 5 GiB cannot go in one PUT"
            )));
        }
        let part_bytes = bytes("MULTIPART_PART_BYTES", 8 * 1024 * 1024)?;
        if !(MIN_PART_BYTES..=MAX_PART_BYTES).contains(&part_bytes) {
            return Err(error(format!(
                "MULTIPART_PART_BYTES must be from {MIN_PART_BYTES} (5 MiB) to {MAX_PART_BYTES} \
                 (5 GiB), S3's part sizes"
            )));
        }
        let ticket_seconds: u32 = vars.parse(
            "MULTIPART_TICKET_SECONDS",
            86_400,
            "a whole number of seconds",
        )?;
        if !(60..=604_800).contains(&ticket_seconds) {
            return Err(error(
                "MULTIPART_TICKET_SECONDS must be from 60 to 604800 (7 days)",
            ));
        }
        let (ticket_key, generated_ticket_key) = match vars.get("MULTIPART_TICKET_KEY") {
            Some(key) if key.len() < MIN_TICKET_KEY_LEN => {
                return Err(error(format!(
                    "MULTIPART_TICKET_KEY is {} characters; use at least {MIN_TICKET_KEY_LEN} \
                     random ones (e.g. openssl rand -hex 32), the same on every replica",
                    key.len()
                )))
            }
            Some(key) => (key.as_bytes().to_vec(), false),
            None => {
                let key = crate::server::keys::os_random::<32>()
                    .map_err(|e| error(format!("cannot generate MULTIPART_TICKET_KEY: {e}")))?;
                (key.to_vec(), true)
            }
        };
        Ok(Multipart {
            threshold_bytes,
            part_bytes,
            ticket_key,
            generated_ticket_key,
            ticket_seconds,
        })
    }

    /// The part size for a file of `size` bytes: [`Multipart::part_bytes`],
    /// or larger when that would take more than 10,000 parts.
    pub fn part_size(&self, size: u64) -> u64 {
        self.part_bytes.max(size.div_ceil(MAX_PARTS))
    }
}

//! Step 2 of SigV4: the string to sign.
//!
//! ```text
//! AWS4-HMAC-SHA256 \n X-AMZ-DATE \n DATE/REGION/SERVICE/aws4_request \n hex(sha256(canonical request))
//! ```

use super::amz_date::AmzDate;
use super::constants::{ALGORITHM, HEX_DIGEST_LEN};
use super::sink::{self, hex_digest, Sink};
use sha2::{Digest as _, Sha256};

/// The string to sign of `canonical_request`, as one string.
pub(crate) fn string_to_sign(
    date: &AmzDate,
    region: &str,
    service: &str,
    canonical_request: &str,
) -> String {
    let hash = hex_digest(&Sha256::digest(canonical_request.as_bytes()).into());
    let mut out = String::with_capacity(
        ALGORITHM.len() + 16 + 8 + region.len() + service.len() + 12 + HEX_DIGEST_LEN + 6,
    );
    write(&mut out, date, region, service, &hash);
    out
}

/// Writes the string to sign of a canonical request whose hex hash is
/// `canonical_request_hash`.
pub(crate) fn write(
    out: &mut impl Sink,
    date: &AmzDate,
    region: &str,
    service: &str,
    canonical_request_hash: &[u8; HEX_DIGEST_LEN],
) {
    write_head(out, date, region, service);
    out.put(sink::as_str(canonical_request_hash));
}

/// The lines before the canonical request's hash: the same for every
/// request signed within one second, so a signer absorbs them once.
pub(crate) fn write_head(out: &mut impl Sink, date: &AmzDate, region: &str, service: &str) {
    let date = date.as_str();
    for piece in [
        ALGORITHM,
        "\n",
        date,
        "\n",
        &date[..8],
        "/",
        region,
        "/",
        service,
        "/aws4_request\n",
    ] {
        out.put(piece);
    }
}

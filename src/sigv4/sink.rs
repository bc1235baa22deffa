//! Where the strings of SigV4 are written: into a `String`, or straight
//! into a hash, with a copy only when a trace asks for one. Presigning
//! hashes the canonical request and the string to sign without ever
//! holding them as strings.

use super::constants::HEX_DIGEST_LEN;
use sha2::digest::Update;

/// Where the pieces of a canonical request or a string to sign go.
pub(crate) trait Sink {
    /// Appends `piece`.
    fn put(&mut self, piece: &str);
}

impl Sink for String {
    fn put(&mut self, piece: &str) {
        self.push_str(piece);
    }
}

/// Feeds a hash and, when a trace was asked for, a copy.
pub(crate) struct Tee<'t, H> {
    /// The hash (or HMAC) being fed.
    pub(crate) hash: H,
    copy: Option<&'t mut String>,
}

impl<'t, H: Update> Tee<'t, H> {
    pub(crate) fn new(hash: H, copy: Option<&'t mut String>) -> Self {
        if let Some(copy) = &copy {
            debug_assert!(copy.is_empty());
        }
        Tee { hash, copy }
    }
}

impl<H: Update> Sink for Tee<'_, H> {
    fn put(&mut self, piece: &str) {
        Update::update(&mut self.hash, piece.as_bytes());
        if let Some(copy) = &mut self.copy {
            copy.push_str(piece);
        }
    }
}

/// Lower-case hex digits of a SHA-256 digest or HMAC, on the stack: two per
/// URL, and `hex::encode` builds a `String` one `char` at a time.
pub(crate) fn hex_digest(digest: &[u8; 32]) -> [u8; HEX_DIGEST_LEN] {
    // Arithmetic rather than a table, so that the compiler can vectorise it.
    let digit = |n: u8| n + if n < 10 { b'0' } else { b'a' - 10 };
    let high = digest.map(|b| digit(b >> 4));
    let low = digest.map(|b| digit(b & 0xf));
    let mut out = [0u8; HEX_DIGEST_LEN];
    for (pair, (&h, &l)) in out.chunks_exact_mut(2).zip(high.iter().zip(&low)) {
        pair[0] = h;
        pair[1] = l;
    }
    out
}

/// The digits of [`hex_digest`] as a `&str` (they are ASCII).
pub(crate) fn as_str(hex: &[u8; HEX_DIGEST_LEN]) -> &str {
    std::str::from_utf8(hex).unwrap_or_default()
}

//! Percent-encoding exactly as SigV4 wants it (RFC 3986, upper-case hex).
//!
//! Only the unreserved characters `A-Z a-z 0-9 - . _ ~` stay as they are. A
//! space is `%20`, never `+`; in query components `/` is `%2F`. In paths `/`
//! separates segments and is kept.

use percent_encoding::percent_decode;
use std::borrow::Cow;

/// Bytes checked at once by [`Set::masks`].
const BLOCK: usize = 16;

/// The bytes an encoding leaves as they are; every other byte becomes `%XX`.
#[derive(Debug)]
pub struct Set {
    keep_slash: bool,
}

impl Set {
    fn keeps(&self, b: u8) -> bool {
        // Branch-free, so that whole blocks of bytes are checked at once.
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        letter
            | digit
            | (b == b'-')
            | (b == b'.')
            | (b == b'_')
            | (b == b'~')
            | (self.keep_slash & (b == b'/'))
    }

    /// For each block of 16 bytes of `input`: where it starts, and a mask
    /// with one byte per byte of the block, 1 where it must be encoded.
    ///
    /// Every upload URL goes through here several times (key, canonical
    /// URI, signed headers): a block is checked with no branch, which the
    /// compiler turns into a few vector instructions.
    fn masks<'a>(&'a self, input: &'a [u8]) -> impl Iterator<Item = (usize, u128)> + 'a {
        let block_at = move |at: usize| {
            <[u8; BLOCK]>::try_from(&input[at..at + BLOCK]).map_or(u128::MAX, |block| {
                u128::from_le_bytes(block.map(|b| u8::from(!self.keeps(b))))
            })
        };
        let byte_by_byte = move || {
            input.iter().enumerate().fold(0u128, |mask, (i, &b)| {
                mask | u128::from(!self.keeps(b)) << (8 * i)
            })
        };
        let len = input.len();
        (0..len).step_by(BLOCK).map(move |start| {
            let mask = if start + BLOCK <= len {
                block_at(start)
            } else if len >= BLOCK {
                // The last 16 bytes, less those checked already: reading
                // them in place beats copying a short tail.
                let from = len - BLOCK;
                block_at(from) >> (8 * (start - from))
            } else {
                byte_by_byte()
            };
            (start, mask)
        })
    }

    fn keeps_all(&self, input: &[u8]) -> bool {
        self.masks(input).all(|(_, mask)| mask == 0)
    }
}

/// The unreserved characters `A-Z a-z 0-9 - . _ ~`: for query names and values.
pub const COMPONENT: &Set = &Set { keep_slash: false };

/// As [`COMPONENT`], and `/`: for URI paths and S3 keys.
pub const PATH: &Set = &Set { keep_slash: true };

/// Appends `input` to `out`, encoding every byte outside `set`.
pub fn encode_into(out: &mut String, input: &str, set: &Set) {
    let bytes = input.as_bytes();
    // Start of the bytes kept since the last one encoded: an ASCII byte, or
    // one that is encoded too (the rest of a multi-byte character), so the
    // slices below always fall on character boundaries.
    let mut kept_from = 0;
    for (start, mut mask) in set.masks(bytes) {
        while mask != 0 {
            let at = start + mask.trailing_zeros() as usize / 8;
            mask &= mask - 1;
            if kept_from < at {
                out.push_str(&input[kept_from..at]);
            }
            push_escape(out, bytes[at]);
            kept_from = at + 1;
        }
    }
    out.push_str(&input[kept_from..]);
}

/// As [`encode_into`], for bytes that need not be UTF-8 (a decoded `%FF`).
pub fn encode_bytes_into(out: &mut String, input: &[u8], set: &Set) {
    for chunk in input.utf8_chunks() {
        encode_into(out, chunk.valid(), set);
        for &b in chunk.invalid() {
            push_escape(out, b);
        }
    }
}

fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

fn encode<'a>(input: &'a str, set: &Set) -> Cow<'a, str> {
    if set.keeps_all(input.as_bytes()) {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len() + 16);
    encode_into(&mut out, input, set);
    Cow::Owned(out)
}

/// Encodes a query name or value (`/` becomes `%2F`).
pub fn component(input: &str) -> Cow<'_, str> {
    encode(input, COMPONENT)
}

/// Encodes a path or an S3 key once, keeping `/`.
pub fn path(input: &str) -> Cow<'_, str> {
    encode(input, PATH)
}

/// Decodes `%XX` escapes. A `+` stays a `+`: SigV4 follows RFC 3986, not
/// HTML forms. A `%` that does not start a valid escape is kept literally.
pub fn decode(input: &str) -> Cow<'_, [u8]> {
    percent_decode(input.as_bytes()).into()
}

/// Re-encodes a component as received on the wire into its canonical form:
/// decoded once, then encoded with [`COMPONENT`].
pub fn canonical_component(raw: &str) -> Cow<'_, str> {
    if COMPONENT.keeps_all(raw.as_bytes()) {
        return Cow::Borrowed(raw);
    }
    let bytes = decode(raw);
    let mut out = String::with_capacity(raw.len() + 8);
    encode_bytes_into(&mut out, &bytes, COMPONENT);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_is_percent_20_and_plus_is_encoded() {
        assert_eq!(component("a b+c"), "a%20b%2Bc");
        assert_eq!(path("a b+c/d"), "a%20b%2Bc/d");
    }

    #[test]
    fn unreserved_are_kept_and_reserved_are_encoded() {
        assert_eq!(component("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(
            component("!*'();:@&=+$,/?#[]%"),
            "%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D%25"
        );
    }

    #[test]
    fn utf8_is_encoded_per_byte_upper_case() {
        assert_eq!(component("ሴ"), "%E1%88%B4");
        assert_eq!(path("😀/é"), "%F0%9F%98%80/%C3%A9");
    }

    #[test]
    fn every_byte_but_the_unreserved_is_encoded() {
        for b in 0..=255u8 {
            let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
            for (set, slash) in [(COMPONENT, false), (PATH, true)] {
                let mut out = String::new();
                encode_bytes_into(&mut out, &[b'a', b, b'z'], set);
                let expected = if unreserved || (slash && b == b'/') {
                    format!("a{}z", char::from(b))
                } else {
                    format!("a%{b:02X}z")
                };
                assert_eq!(out, expected, "byte {b}, slash kept: {slash}");
            }
        }
    }

    #[test]
    fn encoded_bytes_are_found_at_every_place_of_a_block() {
        for len in 1..50 {
            for at in 0..len {
                let mut input = "k".repeat(len);
                input.replace_range(at..=at, "é");
                let expected = input.replace('é', "%C3%A9");
                assert_eq!(component(&input), expected);
                assert_eq!(path(&input.replace('k', "/")), expected.replace('k', "/"));
            }
        }
    }

    #[test]
    fn canonical_component_decodes_then_encodes() {
        assert_eq!(canonical_component("%e1%88%b4"), "%E1%88%B4");
        assert_eq!(canonical_component("a+b"), "a%2Bb");
        assert_eq!(canonical_component("a%2Fb"), "a%2Fb");
        assert_eq!(canonical_component("100%"), "100%25");
    }
}

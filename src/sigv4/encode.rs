//! Percent-encoding exactly as SigV4 wants it (RFC 3986, upper-case hex).
//!
//! Only the unreserved characters `A-Z a-z 0-9 - . _ ~` stay as they are. A
//! space is `%20`, never `+`; in query components `/` is `%2F`. In paths `/`
//! separates segments and is kept.

use percent_encoding::{percent_decode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;

/// Everything but the unreserved characters: for query names and values.
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`COMPONENT`], but `/` is kept: for URI paths and S3 keys.
pub const PATH: &AsciiSet = &COMPONENT.remove(b'/');

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Appends `input` to `out`, encoding every byte outside `set`.
pub fn encode_into(out: &mut String, input: &[u8], set: &'static AsciiSet) {
    out.extend(percent_encoding::percent_encode(input, set));
}

/// Encodes a query name or value (`/` becomes `%2F`).
pub fn component(input: &str) -> Cow<'_, str> {
    if input.bytes().all(is_unreserved) {
        return Cow::Borrowed(input);
    }
    percent_encoding::utf8_percent_encode(input, COMPONENT).into()
}

/// Encodes a path or an S3 key once, keeping `/`.
pub fn path(input: &str) -> Cow<'_, str> {
    if input.bytes().all(|b| b == b'/' || is_unreserved(b)) {
        return Cow::Borrowed(input);
    }
    percent_encoding::utf8_percent_encode(input, PATH).into()
}

/// Decodes `%XX` escapes. A `+` stays a `+`: SigV4 follows RFC 3986, not
/// HTML forms. A `%` that does not start a valid escape is kept literally.
pub fn decode(input: &str) -> Cow<'_, [u8]> {
    percent_decode(input.as_bytes()).into()
}

/// Re-encodes a component as received on the wire into its canonical form:
/// decoded once, then encoded with [`COMPONENT`].
pub fn canonical_component(raw: &str) -> Cow<'_, str> {
    if raw.bytes().all(is_unreserved) {
        return Cow::Borrowed(raw);
    }
    let bytes = decode(raw);
    let mut out = String::with_capacity(raw.len() + 8);
    encode_into(&mut out, &bytes, COMPONENT);
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
    fn canonical_component_decodes_then_encodes() {
        assert_eq!(canonical_component("%e1%88%b4"), "%E1%88%B4");
        assert_eq!(canonical_component("a+b"), "a%2Bb");
        assert_eq!(canonical_component("a%2Fb"), "a%2Fb");
        assert_eq!(canonical_component("100%"), "100%25");
    }
}

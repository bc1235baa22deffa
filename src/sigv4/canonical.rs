//! Step 1 of SigV4: the canonical request.
//!
//! ```text
//! METHOD \n CANONICAL-URI \n CANONICAL-QUERY \n CANONICAL-HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH
//! ```
//! Every function here turns a request as it travels on the wire into the
//! one byte string that signer and verifier must agree on.

use super::encode;
use super::sink::Sink;
use std::borrow::Cow;

/// Joins the six parts of a canonical request.
pub(crate) fn request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &Headers,
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(
        method.len()
            + uri.len()
            + query.len()
            + headers.block_and_signed().len()
            + payload_hash.len()
            + 4,
    );
    write_request(&mut out, method, uri, query, headers, payload_hash);
    out
}

/// [`request`], written piece by piece into `out` (a hash, when presigning).
pub(crate) fn write_request(
    out: &mut impl Sink,
    method: &str,
    uri: &str,
    query: &str,
    headers: &Headers,
    payload_hash: &str,
) {
    for piece in [
        method,
        "\n",
        uri,
        "\n",
        query,
        "\n",
        headers.block_and_signed(),
        "\n",
        payload_hash,
    ] {
        out.put(piece);
    }
}

/// The canonical URI of a wire path.
///
/// * `normalize`: remove `.` and `..` segments and squeeze repeated `/`
///   (every AWS service but S3).
/// * `double_encode`: the wire path is taken as already encoded and is
///   encoded once more (every AWS service but S3). Otherwise the path is
///   decoded and encoded exactly once, which is what S3 does: a key is
///   encoded once, `/` kept, `~` never encoded.
pub fn uri(path: &str, normalize: bool, double_encode: bool) -> Cow<'_, str> {
    let path = if path.is_empty() { "/" } else { path };
    let path: Cow<'_, str> = if normalize {
        Cow::Owned(normalize_path(path))
    } else {
        Cow::Borrowed(path)
    };
    // Nothing to encode also means no `%` to decode: the common case, in one pass.
    let encoded = match encode::path(&path) {
        Cow::Borrowed(_) => return path,
        Cow::Owned(encoded) => encoded,
    };
    if double_encode || !path.contains('%') {
        return Cow::Owned(encoded);
    }
    let decoded = encode::decode(&path);
    let mut out = String::with_capacity(path.len() + 8);
    encode::encode_bytes_into(&mut out, &decoded, encode::PATH);
    Cow::Owned(out)
}

/// RFC 3986 dot-segment removal plus squeezing of empty segments, as the
/// AWS test suite expects (`//a/./b/../c/` becomes `/a/c/`).
fn normalize_path(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in path.split('/') {
        trailing_slash = true;
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            _ => {
                kept.push(segment);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &kept {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

/// Splits a raw query string into its `name[=value]` pieces, skipping
/// empty pieces (`a=1&&b=2`).
pub fn query_pairs(raw: &str) -> impl Iterator<Item = (&str, &str)> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
}

/// The canonical query string: every parameter of the wire query `raw`
/// (except those `skip` names) decoded and re-encoded, plus the parameters of
/// `canonical_extra`, a query string that is already canonical, sorted by
/// name then value, joined with `&`. A parameter without `=` is written as
/// `name=`.
pub fn query(raw: &str, canonical_extra: &str, skip: impl Fn(&str) -> bool) -> String {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = query_pairs(raw)
        .filter(|(name, _)| !skip(name))
        .map(|(name, value)| {
            (
                encode::canonical_component(name),
                encode::canonical_component(value),
            )
        })
        .chain(query_pairs(canonical_extra).map(|(n, v)| (Cow::Borrowed(n), Cow::Borrowed(v))))
        .collect();
    pairs.sort_unstable();
    let mut out = String::with_capacity(raw.len() + canonical_extra.len() + 2 * pairs.len());
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The canonical header block and the signed-headers list, kept in one
/// string because the canonical request carries them one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// The block, `\n`, then the signed-headers list.
    text: String,
    /// Where the signed-headers list starts in `text`.
    signed_at: usize,
}

impl Headers {
    /// `name:value\n` for every header, names lower-cased and sorted (the
    /// signer reads only [`Headers::block_and_signed`]).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn block(&self) -> &str {
        &self.text[..self.signed_at - 1]
    }

    /// The header names joined with `;`, e.g. `host;x-amz-date`.
    pub fn signed(&self) -> &str {
        &self.text[self.signed_at..]
    }

    /// The block, `\n` and the signed-headers list: lines 4 to 6 of the
    /// canonical request.
    pub fn block_and_signed(&self) -> &str {
        &self.text
    }
}

/// Canonicalises headers: names lower-cased and sorted; values trimmed with
/// inner runs of white space (folded lines included) squeezed to one space;
/// repeated headers joined with `,` in the order they appear.
pub fn headers(headers: &[(&str, &str)]) -> Headers {
    // Requests sign a handful of headers, usually named in lower case
    // already: sort them without an allocation or a copy of a name.
    let lower_case = headers
        .iter()
        .all(|(name, _)| !name.bytes().any(|b| b.is_ascii_uppercase()));
    if lower_case && headers.len() <= 8 {
        let mut sorted = [("", ""); 8];
        let sorted = &mut sorted[..headers.len()];
        sorted.copy_from_slice(headers);
        // Stable, so repeated headers keep their order of appearance.
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        return sorted_headers(sorted);
    }
    let mut lowered: Vec<(Cow<'_, str>, &str)> = headers
        .iter()
        .map(|&(name, value)| (lower(name), value))
        .collect();
    lowered.sort_by(|a, b| a.0.cmp(&b.0));
    sorted_headers(&lowered)
}

/// [`headers`] of headers with lower-case names, sorted by name.
fn sorted_headers<N: AsRef<str>>(sorted: &[(N, &str)]) -> Headers {
    let mut text = String::with_capacity(
        sorted
            .iter()
            .map(|(n, v)| 2 * n.as_ref().len() + v.len() + 3)
            .sum::<usize>()
            + 1,
    );
    let repeated = |i: usize| i > 0 && sorted[i - 1].0.as_ref() == sorted[i].0.as_ref();
    for (i, (name, value)) in sorted.iter().enumerate() {
        if repeated(i) {
            text.pop(); // the '\n' of the previous value of this header
            text.push(',');
        } else {
            text.push_str(name.as_ref());
            text.push(':');
        }
        push_squeezed(&mut text, value);
        text.push('\n');
    }
    text.push('\n');
    let signed_at = text.len();
    for (i, (name, _)) in sorted.iter().enumerate() {
        if repeated(i) {
            continue;
        }
        if i > 0 {
            text.push(';');
        }
        text.push_str(name.as_ref());
    }
    Headers { text, signed_at }
}

/// Whether `name` is an HTTP token (RFC 9110), as a header name must be.
pub fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| TOKEN[usize::from(b)])
}

/// The bytes of an HTTP token, as a table: every upload URL checks its
/// header names.
const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let symbols = b"!#$%&'*+-.^_`|~";
    let mut i = 0;
    while i < symbols.len() {
        table[symbols[i] as usize] = true;
        i += 1;
    }
    table
};

/// `name` in lower case, copied only if it has upper-case letters.
pub fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

fn push_squeezed(out: &mut String, value: &str) {
    // The common case, and cheap to check: visible ASCII only, nothing to squeeze.
    if value.bytes().all(|b| b.is_ascii_graphic()) {
        out.push_str(value);
        return;
    }
    // Unicode white space, as botocore (Python `str.split`) and S3-compatible
    // servers such as SeaweedFS (Go `strings.Fields`) fold it.
    let mut words = value.split(char::is_whitespace);
    let mut first = true;
    for word in words.by_ref().filter(|w| !w.is_empty()) {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_dot_segments_and_slashes() {
        for (input, expected) in [
            ("/", "/"),
            ("//", "/"),
            ("//example//", "/example/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./", "/"),
            ("/./example", "/example"),
            ("/a/./b/../c/", "/a/c/"),
            ("/a/.", "/a/"),
            ("/../a", "/a"),
        ] {
            assert_eq!(normalize_path(input), expected, "{input}");
        }
    }

    #[test]
    fn s3_uri_keeps_slashes_and_dots_and_encodes_once() {
        assert_eq!(uri("//a/../b/./", false, false), "//a/../b/./");
        // `%2F` on the wire names the same key as `/`: S3 decodes the path.
        assert_eq!(uri("/a%2Fb", false, false), "/a/b");
        assert_eq!(uri("/a%252Fb", false, false), "/a%252Fb");
        assert_eq!(uri("/a b~", false, false), "/a%20b~");
        assert_eq!(uri("/a!b", false, false), "/a%21b");
        assert_eq!(uri("", false, false), "/");
    }

    #[test]
    fn double_encoding_encodes_percent_again() {
        assert_eq!(uri("/a%20b", false, true), "/a%2520b");
        assert_eq!(uri("/example space/", true, true), "/example%20space/");
    }

    #[test]
    fn query_is_sorted_after_encoding_and_valueless_gets_equals() {
        let q = query("b=2&a=2&a=1&%E1%88%B4=x&lifecycle", "", |_| false);
        assert_eq!(q, "%E1%88%B4=x&a=1&a=2&b=2&lifecycle=");
        let q = query("X-Amz-Signature=abc&k=a b", "X-Amz-Date=d", |n| {
            n == "X-Amz-Signature"
        });
        assert_eq!(q, "X-Amz-Date=d&k=a%20b");
    }

    #[test]
    fn headers_are_lowered_sorted_trimmed_and_joined() {
        let h = headers(&[
            ("My-Header1", "  a   b  "),
            ("Host", "example.com"),
            ("my-header1", "\"x   y\""),
            ("MY-HEADER2", "v1\n  v2"),
        ]);
        assert_eq!(
            h.block(),
            "host:example.com\nmy-header1:a b,\"x y\"\nmy-header2:v1 v2\n"
        );
        assert_eq!(h.signed(), "host;my-header1;my-header2");
    }

    #[test]
    fn unicode_white_space_is_squeezed_too() {
        let h = headers(&[("x-amz-meta-v", "a\u{a0}\u{a0}b\u{2003}c\u{85}d")]);
        assert_eq!(h.block(), "x-amz-meta-v:a b c d\n");
    }
}

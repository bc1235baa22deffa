//! Step 1 of SigV4 against a model written the slow, obvious way: the
//! percent-encoder (which checks sixteen bytes at a time), the canonical
//! URI, query and header block agree with one byte at a time, and never
//! panic.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use presign::sigv4::fuzzing::{canonical, encode};
use std::collections::BTreeMap;

#[derive(Debug, Arbitrary)]
struct Input {
    path: String,
    query: String,
    extra: String,
    skip: String,
    bytes: Vec<u8>,
    /// More than eight exercise the heap fallback of the header sort.
    headers: Vec<(String, String)>,
}

fuzz_target!(|input: Input| check(&input));

fn check(input: &Input) {
    for (set, keep_slash) in [(encode::COMPONENT, false), (encode::PATH, true)] {
        let mut out = String::new();
        encode::encode_into(&mut out, &input.path, set);
        assert_eq!(out, model_encode(input.path.as_bytes(), keep_slash));
        out.clear();
        encode::encode_bytes_into(&mut out, &input.bytes, set);
        assert_eq!(out, model_encode(&input.bytes, keep_slash));
    }
    assert_eq!(
        encode::component(&input.query),
        model_encode(input.query.as_bytes(), false)
    );
    assert_eq!(
        encode::path(&input.query),
        model_encode(input.query.as_bytes(), true)
    );
    assert_eq!(&*encode::decode(&input.path), &*model_decode(&input.path));

    // S3: decoded, then encoded exactly once; so canonical twice is canonical.
    let uri = canonical::uri(&input.path, false, false);
    let expected = if input.path.is_empty() {
        "/".to_owned()
    } else {
        model_encode(&model_decode(&input.path), true)
    };
    assert_eq!(uri, expected);
    assert_eq!(canonical::uri(&uri, false, false), uri);
    // Every other service: the wire path encoded once more.
    let double = canonical::uri(&input.path, false, true);
    let expected = if input.path.is_empty() {
        "/".to_owned()
    } else {
        model_encode(input.path.as_bytes(), true)
    };
    assert_eq!(double, expected);
    // Every other service also drops `.`, `..` and empty segments. (S3
    // never does, and no service normalizes a path it then decodes: an
    // encoded `/` would come back as an empty segment.)
    let normalized = canonical::uri(&input.path, true, true);
    let segments: Vec<&str> = normalized
        .strip_prefix('/')
        .expect("a normalized path starts with /")
        .split('/')
        .collect();
    let (last, inner) = segments.split_last().expect("one segment at least");
    assert!(
        inner.iter().all(|s| !matches!(*s, "" | "." | "..")) && !matches!(*last, "." | ".."),
        "{:?} normalized to {normalized:?}",
        input.path
    );
    let _ = canonical::uri(&input.path, true, false);

    let skip = |name: &str| name == input.skip;
    let query = canonical::query(&input.query, "", skip);
    assert_eq!(query, join(model_pairs(&input.query, skip)));
    assert_eq!(canonical::query(&query, "", |_| false), query);
    // An already canonical extra part is merged, never skipped.
    let extra = canonical::query(&input.extra, "", |_| false);
    let mut merged = model_pairs(&input.query, skip);
    merged.extend(model_pairs(&extra, |_| false));
    assert_eq!(canonical::query(&input.query, &extra, skip), join(merged));

    let headers: Vec<(&str, &str)> = input
        .headers
        .iter()
        .take(12)
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let canonical = canonical::headers(&headers);
    let (block, signed) = model_headers(&headers);
    assert_eq!(canonical.block(), block);
    assert_eq!(canonical.signed(), signed);
    assert_eq!(canonical.block_and_signed(), format!("{block}\n{signed}"));
}

/// Every byte but `A-Z a-z 0-9 - . _ ~` (and `/`, if kept) as `%XX`.
fn model_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` with two hex digits (either case) is a byte; anything else stays.
fn model_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let hex = |c: u8| char::from(c).to_digit(16);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The decoded and re-encoded `(name, value)` pairs of a wire query.
fn model_pairs(raw: &str, skip: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .filter(|(n, _)| !skip(n))
        .map(|(n, v)| {
            (
                model_encode(&model_decode(n), false),
                model_encode(&model_decode(v), false),
            )
        })
        .collect()
}

/// Pairs sorted by name, then value, joined with `&`.
fn join(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Names lower-cased and sorted, values of one name joined with `,` in the
/// order given, each trimmed with its runs of white space made one space.
fn model_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let squeezed = value.split_whitespace().collect::<Vec<_>>().join(" ");
        by_name
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(squeezed);
    }
    let block = by_name
        .iter()
        .map(|(n, v)| format!("{n}:{}\n", v.join(",")))
        .collect();
    let signed = by_name.keys().cloned().collect::<Vec<_>>().join(";");
    (block, signed)
}

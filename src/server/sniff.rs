//! What an object's first bytes say it is, and whether that contradicts
//! the content type it was signed with. Pure: bytes in, answer out.
//!
//! The local bucket runs [`PrefixCheck`] over every stored object (PUT and
//! POST), so HTML named `photo.png` never lands under `image/png`. Only a
//! *recognised* contradiction is refused: bytes that match no signature
//! here (a type we do not know, or test data) are stored as signed, since
//! refusing every unknown file would refuse every type we have no rule for.

/// How many first bytes the check reads: enough for every signature
/// below, including an SVG root after an XML prolog and a comment.
pub const PREFIX_LEN: usize = 512;

/// The type the bytes `prefix` (the first [`PREFIX_LEN`] bytes, or the
/// whole object if shorter) are recognisably, if any.
pub fn sniff(prefix: &[u8]) -> Option<&'static str> {
    let starts = |sig: &[u8]| prefix.starts_with(sig);
    if starts(b"\xFF\xD8\xFF") {
        return Some("image/jpeg");
    }
    if starts(b"\x89PNG\r\n\x1A\n") {
        return Some("image/png");
    }
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return Some("image/gif");
    }
    if starts(b"RIFF") && prefix.get(8..12) == Some(b"WEBP") {
        return Some("image/webp");
    }
    if starts(b"%PDF-") {
        return Some("application/pdf");
    }
    if let Some(found) = iso_bmff(prefix) {
        return Some(found);
    }
    markup(prefix)
}

/// AVIF and HEIC/HEIF: an ISO base media `ftyp` box whose major or
/// compatible brands name the format.
fn iso_bmff(prefix: &[u8]) -> Option<&'static str> {
    if prefix.get(4..8) != Some(b"ftyp") {
        return None;
    }
    let size = u32::from_be_bytes(prefix.get(0..4)?.try_into().ok()?) as usize;
    let end = size.clamp(16, prefix.len());
    // The major brand, then (after the minor version) the compatible ones.
    let brands = std::iter::once(prefix.get(8..12)?)
        .chain(prefix.get(16..end).unwrap_or(&[]).chunks_exact(4));
    let mut found = None;
    for brand in brands {
        match brand {
            b"avif" | b"avis" => return Some("image/avif"),
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" => found = Some("image/heic"),
            b"mif1" | b"msf1" => found = found.or(Some("image/heif")),
            _ => {}
        }
    }
    found
}

/// SVG or HTML, after an optional byte-order mark and white space. The
/// HTML openings are those of the WHATWG MIME sniffing standard.
fn markup(prefix: &[u8]) -> Option<&'static str> {
    let text = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let text = &text[text
        .iter()
        .take_while(|b| b" \t\n\r\x0C".contains(b))
        .count()..];
    let lower: Vec<u8> = text.iter().map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<svg") || lower.starts_with(b"<?xml") && contains(&lower, b"<svg") {
        return Some("image/svg+xml");
    }
    const HTML: [&[u8]; 17] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<script",
        b"<iframe",
        b"<h1",
        b"<div",
        b"<font",
        b"<table",
        b"<a",
        b"<style",
        b"<title",
        b"<b",
        b"<body",
        b"<br",
        b"<p",
        b"<!--",
    ];
    let html = HTML.iter().any(|tag| {
        lower.starts_with(tag)
            // The tag must end there ("<a ", "<a>", "<a/" or "<a" and a line
            // break, not "<abbr"); "<!--" is whole. WHATWG takes only " " and
            // ">", but this is a storage rule, not a browser's guess.
            && (tag.len() == 4 && *tag == b"<!--"
                || matches!(lower.get(tag.len()), Some(b' ' | b'>' | b'\t' | b'\n' | b'\r' | b'\x0C' | b'/')))
    });
    html.then_some("text/html")
}

/// Names of one format: compared by this.
fn family(t: &str) -> &str {
    match t {
        // One container format under two names.
        "image/heif" => "image/heic",
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "application/xhtml+xml" => "text/html",
        _ => t,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether bytes recognised as `found` may be stored under `declared`.
fn agrees(declared: &str, found: &str) -> bool {
    let declared = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // "Some bytes": the uploader claims nothing, so nothing is contradicted.
    declared.is_empty()
        || declared == "application/octet-stream"
        || declared == "binary/octet-stream"
        // "image/": a form whose policy allows any image, as `presign post
        // --content-type-prefix image/` prints it.
        || declared.ends_with('/') && found.starts_with(declared.as_str())
        || family(&declared) == family(found)
}

/// Bytes whose signature contradicts the signed type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The type the object was signed (declared) as.
    pub declared: String,
    /// What its first bytes are.
    pub found: &'static str,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "The object's first bytes are {}, not {} as signed.",
            self.found, self.declared
        )
    }
}

/// `prefix` checked against `declared`: `Err` if it is recognisably
/// something else.
pub fn check(declared: &str, prefix: &[u8]) -> Result<(), Mismatch> {
    match sniff(prefix) {
        Some(found) if !agrees(declared, found) => Err(Mismatch {
            declared: declared.to_owned(),
            found,
        }),
        _ => Ok(()),
    }
}

/// Runs [`check`] on a body that arrives in pieces: [`PrefixCheck::feed`]
/// each piece, [`PrefixCheck::finish`] at the end. It answers as soon as
/// [`PREFIX_LEN`] bytes are in, so a refused upload is cut off early.
#[derive(Debug)]
pub struct PrefixCheck {
    declared: String,
    head: Vec<u8>,
    done: bool,
}

impl PrefixCheck {
    /// A check for an object signed as `declared` (its `Content-Type`).
    pub fn new(declared: &str) -> Self {
        PrefixCheck {
            declared: declared.to_owned(),
            head: Vec::with_capacity(PREFIX_LEN),
            done: false,
        }
    }

    /// The next piece of the body.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Mismatch> {
        if self.done {
            return Ok(());
        }
        let take = data.len().min(PREFIX_LEN - self.head.len());
        self.head.extend_from_slice(&data[..take]);
        if self.head.len() < PREFIX_LEN {
            return Ok(());
        }
        self.finish()
    }

    /// The body is complete (it may be shorter than [`PREFIX_LEN`]).
    pub fn finish(&mut self) -> Result<(), Mismatch> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        check(&self.declared, &self.head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR";

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = 16 + 4 * compatible.len();
        let mut out = (size as u32).to_be_bytes().to_vec();
        out.extend_from_slice(b"ftyp");
        out.extend_from_slice(major);
        out.extend_from_slice(&[0; 4]);
        for brand in compatible {
            out.extend_from_slice(*brand);
        }
        out.extend_from_slice(b"\0\0\0\x10meta");
        out
    }

    #[test]
    fn image_signatures_are_recognised() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(sniff(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"GIF87a"), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            sniff(b"RIFF\x10\0\0\0WAVEfmt "),
            None,
            "a WAV is not a WebP"
        );
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(
            sniff(&ftyp(b"avif", &[b"mif1", b"miaf"])),
            Some("image/avif")
        );
        assert_eq!(
            sniff(&ftyp(b"heic", &[b"mif1", b"heic"])),
            Some("image/heic")
        );
        assert_eq!(sniff(&ftyp(b"mif1", &[b"heic"])), Some("image/heic"));
        assert_eq!(sniff(&ftyp(b"mif1", &[b"mif1"])), Some("image/heif"));
        assert_eq!(sniff(&ftyp(b"isom", &[b"mp41"])), None, "an MP4 video");
    }

    #[test]
    fn markup_is_recognised_after_white_space_and_a_bom() {
        assert_eq!(sniff(b"<!DOCTYPE html><p>hi"), Some("text/html"));
        assert_eq!(sniff(b"\xEF\xBB\xBF\n  <HTML lang=en>"), Some("text/html"));
        assert_eq!(
            sniff(b"<html\n<body>"),
            Some("text/html"),
            "a line break ends a tag"
        );
        assert_eq!(sniff(b"<script\tsrc=x>"), Some("text/html"));
        assert_eq!(sniff(b"<br/>"), Some("text/html"));
        assert_eq!(sniff(b"<script>alert(1)</script>"), Some("text/html"));
        assert_eq!(sniff(b"<!-- x --><b>"), Some("text/html"));
        assert_eq!(sniff(b"<abbr>"), None, "only whole tag names count");
        assert_eq!(
            sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Some("image/svg+xml")
        );
        assert_eq!(
            sniff(b"<?xml version='1.0'?>\n<!-- drawn -->\n<svg>"),
            Some("image/svg+xml")
        );
        assert_eq!(sniff(b"<?xml version='1.0'?><feed>"), None);
        assert_eq!(sniff(b"plain words"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn a_recognised_contradiction_is_a_mismatch() {
        let html = b"<!doctype html><title>x</title>";
        assert_eq!(
            check("image/png", html),
            Err(Mismatch {
                declared: "image/png".into(),
                found: "text/html"
            })
        );
        assert!(check("image/jpeg", PNG).is_err(), "a PNG named .jpg");
        assert!(check("image/svg+xml", html).is_err());
        assert!(check("image/png", b"<svg>").is_err());
        assert!(check("image/heic", b"\xFF\xD8\xFF").is_err());
        let message = check("image/png", html).unwrap_err().to_string();
        assert_eq!(
            message,
            "The object's first bytes are text/html, not image/png as signed."
        );
    }

    #[test]
    fn agreeing_or_unknown_bytes_pass() {
        assert!(check("image/png", PNG).is_ok());
        assert!(check("IMAGE/PNG; x=1", PNG).is_ok(), "parameters and case");
        assert!(
            check("image/heif", &ftyp(b"heic", &[])).is_ok(),
            "one format, two names"
        );
        assert!(check("image/heic", &ftyp(b"mif1", &[])).is_ok());
        assert!(check("image/jpg", b"\xFF\xD8\xFF").is_ok());
        assert!(check("text/html", b"<html>").is_ok());
        assert!(
            check("image/png", &[7; 10]).is_ok(),
            "unrecognised bytes are not judged"
        );
        assert!(check("application/octet-stream", b"<html>").is_ok());
        assert!(check("", b"<html>").is_ok());
        assert!(
            check("image/", PNG).is_ok(),
            "a type prefix takes any of its types"
        );
        assert!(check("image/", b"<html>").is_err());
    }

    #[test]
    fn the_streaming_check_answers_once_enough_bytes_are_in() {
        let mut html = b"<html>".to_vec();
        html.resize(2 * PREFIX_LEN, b' ');
        let mut streaming = PrefixCheck::new("image/png");
        assert!(streaming.feed(&html[..3]).is_ok(), "too early to tell");
        assert!(
            streaming.feed(&html[3..PREFIX_LEN]).is_err(),
            "decided at PREFIX_LEN"
        );
        assert!(streaming.feed(&html[PREFIX_LEN..]).is_ok(), "and only once");

        let mut short = PrefixCheck::new("image/png");
        assert!(short.feed(b"<p>hi").is_ok());
        assert!(
            short.finish().is_err(),
            "a body shorter than the prefix is judged at the end"
        );

        let mut png = PrefixCheck::new("image/png");
        for byte in PNG {
            assert!(png.feed(&[*byte]).is_ok());
        }
        assert!(png.finish().is_ok());
    }
}

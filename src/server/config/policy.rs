//! What may be uploaded: types, size, URL lifetime, where keys go.

use super::multipart::MAX_OBJECT_BYTES;
use super::{error, ConfigError, Vars};
use crate::sigv4::InvalidExpiry;

/// Types a browser would run or render as a document if an uploaded file
/// were opened: never allowed by default, and loudly flagged when allowed.
pub const ACTIVE_TYPES: &[&str] = &[
    "image/svg+xml",
    "text/html",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "application/pdf",
];

/// Image types the server knows (key extension, type of a key) but leaves
/// off by default: HEIC/HEIF, what phones save, which most browsers cannot
/// display. `UPLOAD_ALLOWED_TYPES` may list them; the page then uploads
/// them as they are, and otherwise explains how to export a JPEG.
pub const OPT_IN_IMAGE_TYPES: &[&str] = &["image/heic", "image/heif"];

const DEFAULT_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/avif",
];

/// The upload policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPolicy {
    /// Allowed `Content-Type`s, lower case.
    pub allowed_types: Vec<String>,
    /// Largest upload, in bytes.
    pub max_bytes: u64,
    /// Lifetime of an upload URL, seconds.
    pub expires_seconds: u32,
    /// Lifetime of a preview (`viewUrl`) URL, seconds.
    pub view_expires_seconds: u32,
    /// Prefix of every generated key.
    pub key_prefix: String,
    /// Sign `If-None-Match: *` so an upload can never overwrite an object.
    pub if_none_match: bool,
}

impl UploadPolicy {
    pub(super) fn load(vars: &Vars) -> Result<Self, ConfigError> {
        let allowed_types = vars
            .list("UPLOAD_ALLOWED_TYPES")
            .unwrap_or_else(|| DEFAULT_TYPES.iter().map(|t| (*t).to_owned()).collect());
        let allowed_types: Vec<String> = allowed_types
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        if let Some(bad) = allowed_types.iter().find(|t| !is_media_type(t)) {
            return Err(error(format!(
                "UPLOAD_ALLOWED_TYPES: {bad:?} is not a type/subtype media type"
            )));
        }
        if allowed_types.is_empty() {
            return Err(error(
                "UPLOAD_ALLOWED_TYPES is empty: nothing could be uploaded",
            ));
        }
        let max_bytes: u64 = vars.parse(
            "UPLOAD_MAX_BYTES",
            10 * 1024 * 1024,
            "a whole number of bytes",
        )?;
        // Files above 5 GiB go multipart (one PUT takes at most that); an
        // S3 object is at most 5 TiB, less than 10,000 parts of 5 GiB.
        if !(1..=MAX_OBJECT_BYTES).contains(&max_bytes) {
            return Err(error(format!(
                "UPLOAD_MAX_BYTES must be from 1 to {MAX_OBJECT_BYTES} (5 TiB, S3's largest object)"
            )));
        }
        let expires = |name, default| -> Result<u32, ConfigError> {
            let value: u32 = vars.parse(name, default, "a whole number of seconds")?;
            InvalidExpiry::check(value).map_err(|e| error(format!("{name}: {e}")))?;
            Ok(value)
        };
        let key_prefix = vars
            .get("UPLOAD_KEY_PREFIX")
            .unwrap_or("uploads/")
            .to_owned();
        // The prefix is good if a key made with it is: checked on the
        // longest key the server makes (a 36-character id, a 10-letter type).
        let longest_key = format!(
            "{key_prefix}2026/01/01/{}.{}",
            "0".repeat(36),
            "x".repeat(10)
        );
        if !crate::server::keys::is_storable(&longest_key) {
            return Err(error(format!(
                "UPLOAD_KEY_PREFIX={key_prefix:?} makes keys the local bucket refuses: no leading '/', \
                 no empty, '.', '..' or '.presign-tmp' segment, no control characters or '\\', \
                 segments of at most 255 bytes, keys of at most 1024"
            )));
        }
        Ok(UploadPolicy {
            allowed_types,
            max_bytes,
            expires_seconds: expires("UPLOAD_EXPIRES_SECONDS", 300)?,
            view_expires_seconds: expires("VIEW_EXPIRES_SECONDS", 900)?,
            key_prefix,
            if_none_match: vars.flag("UPLOAD_IF_NONE_MATCH", true)?,
        })
    }

    /// The allowed types a browser could run, for a warning at start.
    pub fn active_types(&self) -> Vec<&str> {
        self.allowed_types
            .iter()
            .map(String::as_str)
            .filter(|t| ACTIVE_TYPES.contains(t))
            .collect()
    }

    /// The file extension for a content type: from the type, never from
    /// the user's file name.
    pub fn extension(content_type: &str) -> &str {
        match content_type {
            "image/jpeg" => "jpg",
            "image/svg+xml" => "svg",
            "text/plain" => "txt",
            "text/javascript" | "application/javascript" => "js",
            other => {
                let sub = other.split_once('/').map_or("", |(_, s)| s);
                if !sub.is_empty()
                    && sub.len() <= 10
                    && sub.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    sub
                } else {
                    "bin"
                }
            }
        }
    }

    /// The content type for a key's extension (the inverse of
    /// [`UploadPolicy::extension`] for the usual types).
    pub fn content_type_of(key: &str) -> &'static str {
        let ext = key.rsplit_once('.').map_or("", |(_, e)| e);
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => "image/jpeg",
            "png" => "image/png",
            "gif" => "image/gif",
            "webp" => "image/webp",
            "avif" => "image/avif",
            "heic" => "image/heic",
            "heif" => "image/heif",
            "svg" => "image/svg+xml",
            "txt" => "text/plain",
            _ => "application/octet-stream",
        }
    }
}

/// `type/subtype` with token characters only (no parameters).
pub fn is_media_type(value: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(value.split_once('/'), Some((t, s)) if token(t) && token(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heic_and_heif_are_known_but_off_by_default() {
        for (key, ty) in [("a/IMG_1.heic", "image/heic"), ("b.HEIF", "image/heif")] {
            assert_eq!(UploadPolicy::content_type_of(key), ty);
            assert_eq!(
                UploadPolicy::extension(ty),
                key.rsplit('.').next().unwrap().to_ascii_lowercase()
            );
        }
        for ty in OPT_IN_IMAGE_TYPES {
            assert!(!DEFAULT_TYPES.contains(ty), "{ty}");
            assert!(is_media_type(ty));
        }
    }
}

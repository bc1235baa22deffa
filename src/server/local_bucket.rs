//! The local bucket: a path-style S3 endpoint at `/s3/local/<key>` that
//! accepts presigned `PUT`, `GET` and `HEAD`, verified by our own SigV4
//! verifier, browser POST uploads to `/s3/local` (`post_upload`) and
//! multipart uploads (`local_multipart`), and keeps objects as files
//! under one directory.
//!
//! A `PUT` streams the body into a temporary file, syncs it, then moves it
//! into place in one step, so readers see the whole object or none, and a
//! cut connection leaves nothing behind. Its first bytes must not be
//! recognisably another type than its `Content-Type` (`sniff`).

use super::config::multipart::MAX_SINGLE_PUT_BYTES;
use super::config::UploadPolicy;
use super::http::{empty, Body, FileBody};
use super::keys::{is_storable, TMP_DIR};
use super::s3_error::S3Error;
use super::sniff::PrefixCheck;
use super::state::{State, LOCAL_BUCKET, LOCAL_PREFIX};
use crate::sigv4::{verify_presigned, Received, VerifyOptions, UNSIGNED_PAYLOAD};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, IF_NONE_MATCH};
use hyper::{Method, Request, Response};
use std::path::{Path, PathBuf};

/// Answers one request under `/s3/`.
pub async fn handle(request: Request<Incoming>, state: &State, dir: &Path) -> Response<Body> {
    let resource = request.uri().path().to_owned();
    let bucket_url = resource.strip_prefix(LOCAL_PREFIX) == Some(&format!("/{LOCAL_BUCKET}"))
        || resource.strip_prefix(LOCAL_PREFIX) == Some(&format!("/{LOCAL_BUCKET}/"));
    let answer = if request.method() == Method::POST && bucket_url {
        super::post_upload::upload(request, state, dir).await
    } else if super::local_multipart::is_multipart(request.uri().query()) {
        super::local_multipart::handle(request, state, dir, &resource).await
    } else {
        object(request, state, dir, &resource).await
    };
    answer.unwrap_or_else(|e| e.into_response(&resource))
}

/// A presigned request for one object.
async fn object(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
    resource: &str,
) -> Result<Response<Body>, S3Error> {
    if !matches!(*request.method(), Method::PUT | Method::GET | Method::HEAD) {
        return Err(S3Error::MethodNotAllowed);
    }
    verify(&request, state).map_err(S3Error::Verify)?;
    let key = object_key(resource)?;
    let path = object_path(dir, &key).ok_or(S3Error::KeyRefused)?;
    if request.method() == Method::PUT {
        put(request, state, dir, &path).await
    } else {
        get(request.method() == Method::HEAD, &path, &key).await
    }
}

/// The key of the object at `resource` (`/s3/local/<key>`), decoded.
pub(super) fn object_key(resource: &str) -> Result<String, S3Error> {
    let raw_key = resource
        .strip_prefix(LOCAL_PREFIX)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.strip_prefix(LOCAL_BUCKET))
        .and_then(|p| p.strip_prefix('/'))
        .ok_or(S3Error::NoSuchBucket)?;
    percent_encoding::percent_decode_str(raw_key)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| S3Error::KeyNotUtf8)
}

/// Checks a presigned request against the local bucket's keys.
pub(super) fn verify(
    request: &Request<Incoming>,
    state: &State,
) -> Result<(), crate::sigv4::VerifyError> {
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let received = Received {
        method: request.method().as_str(),
        path: request.uri().path(),
        query: request.uri().query().unwrap_or(""),
        headers: &headers,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let now = time::OffsetDateTime::now_utc();
    let current = state.signer.current();
    verify_presigned(&received, now, VerifyOptions::default(), |id| {
        (id == current.signer.credentials().access_key_id()).then_some(&current.signer)
    })
    .map(|_| ())
}

/// The file of `key`, or `None` if the key could escape the directory or
/// collide with our temporary files.
pub(super) fn object_path(dir: &Path, key: &str) -> Option<PathBuf> {
    is_storable(key).then(|| {
        key.split('/')
            .fold(dir.to_path_buf(), |path, segment| path.join(segment))
    })
}

async fn put(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
    path: &Path,
) -> Result<Response<Body>, S3Error> {
    let exclusive = request
        .headers()
        .get(IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*");
    // Checked before the body is read, and again when the file is placed.
    if is_key_conflict(dir, path) {
        return Err(S3Error::KeyConflict);
    }
    if exclusive && tokio::fs::try_exists(path).await.unwrap_or(false) {
        return Err(S3Error::PreconditionFailed);
    }
    // One PUT takes at most 5 GiB, as on S3; larger objects go multipart.
    let max = state.config.policy.max_bytes.min(MAX_SINGLE_PUT_BYTES);
    let mut content = PrefixCheck::new(
        request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    );
    let (tmp, written) =
        super::spool::receive(request, state, dir, max, Bytes::new(), Some(&mut content)).await?;
    place(dir, &tmp, path, exclusive).await?;
    state.metrics.stored(written);
    Ok(super::spool::stored_response(&super::spool::new_etag(
        &state.keys,
    )))
}

/// Moves the complete `tmp` to `path`; with `exclusive`, only if no
/// object has its key.
pub(super) async fn place(
    dir: &Path,
    tmp: &TempFile,
    path: &Path,
    exclusive: bool,
) -> Result<(), S3Error> {
    // Another upload may have made `a` or `a/b` meanwhile.
    let storage_or_conflict = |e| {
        if is_key_conflict(dir, path) {
            S3Error::KeyConflict
        } else {
            S3Error::Internal(e)
        }
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(storage_or_conflict)?;
    }
    // Linking fails if the key exists: the If-None-Match check and the
    // write are one atomic step, so two racing uploads cannot both win.
    let placed = if exclusive {
        tokio::fs::hard_link(&tmp.path, path).await
    } else {
        tokio::fs::rename(&tmp.path, path).await
    };
    match placed {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !is_key_conflict(dir, path) => {
            Err(S3Error::PreconditionFailed)
        }
        placed => placed.map_err(storage_or_conflict),
    }
}

/// Whether `path` cannot be an object's file because a directory is in its
/// place or a file is in the place of one of its directories. Looked up
/// rather than read from the error, whose kind differs by platform.
pub(super) fn is_key_conflict(dir: &Path, path: &Path) -> bool {
    path.is_dir()
        || path
            .ancestors()
            .skip(1)
            .take_while(|ancestor| *ancestor != dir)
            .any(Path::is_file)
}

/// Makes `dir` ready before the server listens: created if missing,
/// temporary files of a killed run swept away, and writable (checked by
/// writing). Every error names the directory.
pub fn prepare(dir: &Path) -> std::io::Result<()> {
    let tmp = dir.join(TMP_DIR);
    let fail = |what: &str, e: std::io::Error| {
        std::io::Error::new(
            e.kind(),
            format!("LOCAL_BUCKET_DIR {}: {what}: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(&tmp).map_err(|e| fail("cannot create it", e))?;
    let entries = std::fs::read_dir(&tmp).map_err(|e| fail("cannot list temporary files", e))?;
    for entry in entries.flatten() {
        // Only this server writes here, and it is not serving yet: any
        // file is what a killed run left behind.
        let _ = std::fs::remove_file(entry.path());
    }
    let probe = tmp.join(format!("write-check-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| fail("cannot write into it", e))?;
    std::fs::remove_file(&probe).map_err(|e| fail("cannot delete in it", e))
}

async fn get(head: bool, path: &Path, key: &str) -> Result<Response<Body>, S3Error> {
    let opened = async {
        let file = tokio::fs::File::open(path).await?;
        let meta = file.metadata().await?;
        Ok::<_, std::io::Error>((file, meta))
    }
    .await;
    let (file, meta) = match opened {
        Ok((file, meta)) if meta.is_file() => (file, meta),
        Ok(_) => return Err(S3Error::NoSuchKey),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(S3Error::NoSuchKey)
        }
        Err(e) => return Err(S3Error::Internal(e)),
    };
    let len = meta.len();
    let body = if head {
        empty()
    } else {
        FileBody::new(file, len).into()
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(UploadPolicy::content_type_of(key)),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    // Objects share this server's origin: whatever was uploaded must never
    // run as a page of it.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        ),
    );
    headers.insert(
        "cache-control",
        HeaderValue::from_static("private, max-age=300"),
    );
    Ok(response)
}

/// A temporary file that is deleted when dropped, so every way out of a
/// `PUT` (error, refusal, cancelled connection) cleans up after itself.
pub(super) struct TempFile {
    pub(super) path: PathBuf,
}

impl TempFile {
    pub(super) fn new(path: PathBuf) -> Self {
        TempFile { path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // After a rename the file is gone already; that error is expected.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_are_refused() {
        let dir = Path::new("/data");
        assert_eq!(
            object_path(dir, "uploads/a.png"),
            Some(PathBuf::from("/data/uploads/a.png"))
        );
        for bad in [
            "",
            "../etc/passwd",
            "a/../../b",
            "/abs",
            "a//b",
            "a/./b",
            "a\\..\\b",
            "nul\0byte",
            ".presign-tmp/x",
            "trailing/",
        ] {
            assert_eq!(object_path(dir, bad), None, "{bad:?}");
        }
        assert_eq!(object_path(dir, &"a".repeat(1025)), None);
        assert_eq!(object_path(dir, &format!("a/{}", "b".repeat(256))), None);
        assert!(object_path(dir, &format!("a/{}", "b".repeat(255))).is_some());
    }
}

#[cfg(test)]
mod key_mapping_properties {
    use super::*;
    use proptest::prelude::*;
    use std::path::Component;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Whatever the key: a file strictly inside the directory, one
        /// plain path component per key segment (no `..`, root or
        /// prefix), never in the temporary directory, and the key read
        /// back from the path is the key (two keys never share a file).
        #[test]
        fn a_key_maps_inside_the_directory_or_is_refused(
            key in prop_oneof![
                r"[a-z./\\\x00-\x1f]{0,20}",
                ".{0,40}",
                proptest::collection::vec(
                    prop_oneof![
                        Just("..".to_owned()),
                        Just(".".to_owned()),
                        Just(String::new()),
                        Just(TMP_DIR.to_owned()),
                        Just("C:".to_owned()),
                        "[^/]{1,8}",
                    ],
                    1..6,
                ).prop_map(|segments| segments.join("/")),
            ],
        ) {
            let dir = Path::new("/srv/bucket");
            match object_path(dir, &key) {
                None => prop_assert!(!is_storable(&key)),
                Some(path) => {
                    let inside = path.strip_prefix(dir).unwrap();
                    let parts: Vec<_> = inside.components().collect();
                    prop_assert!(parts.iter().all(|c| matches!(c, Component::Normal(_))), "{path:?}");
                    prop_assert_eq!(parts.len(), key.split('/').count());
                    prop_assert!(parts[0].as_os_str() != TMP_DIR);
                    let back: Vec<_> = parts.iter().map(|c| c.as_os_str().to_str().unwrap()).collect();
                    prop_assert_eq!(back.join("/"), key);
                }
            }
        }
    }
}

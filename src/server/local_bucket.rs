//! The local bucket: a path-style S3 endpoint at `/s3/local/<key>` that
//! accepts presigned `PUT`, `GET` and `HEAD`, verified by our own SigV4
//! verifier, and browser POST uploads to `/s3/local` (`post_upload`), and
//! keeps objects as files under one directory.
//!
//! A `PUT` streams the body into a temporary file, syncs it, then moves it
//! into place in one step, so readers see the whole object or none, and a
//! cut connection leaves nothing behind.

use super::body::{BodyError, Pace};
use super::config::UploadPolicy;
use super::http::{empty, xml_error, xml_error_with, Body, FileBody};
use super::keys::{is_storable, TMP_DIR};
use super::state::{State, LOCAL_BUCKET, LOCAL_PREFIX};
use crate::sigv4::{verify_presigned, Received, VerifyErrorKind, VerifyOptions, UNSIGNED_PAYLOAD};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Answers one request under `/s3/`.
pub async fn handle(request: Request<Incoming>, state: &State, dir: &Path) -> Response<Body> {
    let resource = request.uri().path().to_owned();
    let fail =
        |status: StatusCode, code: &str, message: &str| xml_error(status, code, message, &resource);
    let bucket_url = resource.strip_prefix(LOCAL_PREFIX) == Some(&format!("/{LOCAL_BUCKET}"))
        || resource.strip_prefix(LOCAL_PREFIX) == Some(&format!("/{LOCAL_BUCKET}/"));
    if request.method() == Method::POST && bucket_url {
        return super::post_upload::handle(request, state, dir).await;
    }
    if !matches!(*request.method(), Method::PUT | Method::GET | Method::HEAD) {
        let mut response = fail(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The local bucket accepts presigned PUT, GET and HEAD requests, and POST uploads to the bucket's URL.",
        );
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("PUT, GET, HEAD"));
        return response;
    }
    if let Err(e) = verify(&request, state) {
        let status = match e.kind() {
            VerifyErrorKind::MalformedQuery => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        };
        // Like S3: what we computed, for the client to compare with its own
        // (`presign explain` prints the same two strings).
        let trace: Vec<(&str, &str)> = e
            .trace()
            .map(|t| {
                vec![
                    ("StringToSign", t.string_to_sign.as_str()),
                    ("CanonicalRequest", t.canonical_request.as_str()),
                ]
            })
            .unwrap_or_default();
        return xml_error_with(status, e.s3_code(), e.message(), &resource, &trace);
    }
    let raw_key = resource
        .strip_prefix(LOCAL_PREFIX)
        .and_then(|p| p.strip_prefix('/'))
        .and_then(|p| p.strip_prefix(LOCAL_BUCKET))
        .and_then(|p| p.strip_prefix('/'));
    let Some(raw_key) = raw_key else {
        return fail(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The only bucket here is 'local'.",
        );
    };
    let key = match percent_encoding::percent_decode_str(raw_key).decode_utf8() {
        Ok(key) => key.into_owned(),
        Err(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "The key is not valid UTF-8.",
            )
        }
    };
    let Some(path) = object_path(dir, &key) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "The local bucket refuses this key: empty, '.' or '..' segments, backslashes, control \
             characters, a leading '/', a segment over 255 bytes or more than 1024 bytes.",
        );
    };
    if request.method() == Method::PUT {
        put(request, state, dir, &path, &resource).await
    } else {
        get(request.method() == Method::HEAD, &path, &key, &resource).await
    }
}

fn verify(request: &Request<Incoming>, state: &State) -> Result<(), crate::sigv4::VerifyError> {
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
    resource: &str,
) -> Response<Body> {
    let fail =
        |status: StatusCode, code: &str, message: &str| xml_error(status, code, message, resource);
    let exclusive = request
        .headers()
        .get(IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*");
    // Checked before the body is read, and again when the file is placed.
    if is_key_conflict(dir, path) {
        return conflict(&fail);
    }
    if exclusive && tokio::fs::try_exists(path).await.unwrap_or(false) {
        return fail(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold (an object with this key exists).",
        );
    }
    let max = state.config.policy.max_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        fail(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size.",
        )
    };
    if declared.is_some_and(|len| len > max) {
        return too_large();
    }
    let tmp = TempFile::new(dir.join(TMP_DIR).join(state.keys.uuid()));
    let stored = async {
        tokio::fs::create_dir_all(dir.join(TMP_DIR)).await?;
        let mut file = tokio::fs::File::create(&tmp.path).await?;
        let mut body = request.into_body();
        let mut pace = Pace::new(&state.config.limits);
        let mut hash = Sha256::new();
        let mut written: u64 = 0;
        loop {
            let frame = match pace.next(&mut body).await {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(BodyError::Malformed(e)) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        e,
                    ))
                }
                Err(BodyError::TooSlow | BodyError::TooLarge) => {
                    return Err(std::io::ErrorKind::TimedOut.into())
                }
            };
            if let Ok(data) = frame.into_data() {
                written += data.len() as u64;
                if written > max {
                    return Ok(None);
                }
                hash.update(&data);
                file.write_all(&data).await?;
            }
        }
        file.sync_all().await?;
        Ok::<_, std::io::Error>(Some(hex::encode(&hash.finalize()[..16])))
    }
    .await;
    let etag = match stored {
        Ok(Some(etag)) => etag,
        Ok(None) => return too_large(),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => return fail(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        ),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return fail(
            StatusCode::BAD_REQUEST,
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period.",
        ),
        Err(e) => return internal(&fail, &e),
    };
    if let Some(parent) = path.parent() {
        if let Err(e) = tokio::fs::create_dir_all(parent).await {
            return if is_key_conflict(dir, path) {
                conflict(&fail)
            } else {
                internal(&fail, &e)
            };
        }
    }
    // Linking fails if the key exists: the If-None-Match check and the
    // write are one atomic step, so two racing uploads cannot both win.
    let placed = if exclusive {
        tokio::fs::hard_link(&tmp.path, path).await
    } else {
        tokio::fs::rename(&tmp.path, path).await
    };
    match placed {
        Ok(()) => {
            let mut response = Response::new(empty());
            response
                .headers_mut()
                .insert(ETAG, HeaderValue::from_str(&format!("\"{etag}\"")).unwrap_or(HeaderValue::from_static("\"\"")));
            response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
            response
        }
        Err(_) if is_key_conflict(dir, path) => conflict(&fail),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => fail(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold (an object with this key exists).",
        ),
        Err(e) => internal(&fail, &e),
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

/// Objects are files: `a` and `a/b` cannot both exist, unlike in S3.
pub(super) fn conflict(fail: &dyn Fn(StatusCode, &str, &str) -> Response<Body>) -> Response<Body> {
    fail(
        StatusCode::CONFLICT,
        "KeyConflict",
        "The local bucket keeps objects as files: a key cannot both be an object and a prefix of \
         other keys ('a' and 'a/b').",
    )
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

async fn get(head: bool, path: &Path, key: &str, resource: &str) -> Response<Body> {
    let fail =
        |status: StatusCode, code: &str, message: &str| xml_error(status, code, message, resource);
    let opened = async {
        let file = tokio::fs::File::open(path).await?;
        let meta = file.metadata().await?;
        Ok::<_, std::io::Error>((file, meta))
    }
    .await;
    let (file, meta) = match opened {
        Ok((file, meta)) if meta.is_file() => (file, meta),
        Ok(_) => {
            return fail(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return fail(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            )
        }
        Err(e) => return internal(&fail, &e),
    };
    let len = meta.len();
    let body = if head {
        empty()
    } else {
        FileBody::new(file, len).boxed()
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
    response
}

pub(super) fn internal(
    fail: &dyn Fn(StatusCode, &str, &str) -> Response<Body>,
    error: &std::io::Error,
) -> Response<Body> {
    eprintln!("presign: local bucket storage error: {error}");
    fail(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "The local bucket could not store or read the object; see the server log.",
    )
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

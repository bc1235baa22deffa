//! The local bucket: a path-style S3 endpoint at `/s3/local/<key>` that
//! accepts presigned `PUT`, `GET` and `HEAD` only, verified by our own SigV4
//! verifier, and keeps objects as files under one directory.
//!
//! A `PUT` streams the body into a temporary file, syncs it, then moves it
//! into place in one step, so readers see the whole object or none, and a
//! cut connection leaves nothing behind.

use super::config::UploadPolicy;
use super::http::{empty, xml_error, xml_error_with, Body, FileBody};
use super::state::{State, LOCAL_BUCKET, LOCAL_PREFIX};
use crate::sigv4::{verify_presigned, Received, VerifyErrorKind, VerifyOptions, UNSIGNED_PAYLOAD};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Temporary files live here, inside the bucket directory (so the final
/// rename stays on one file system) but outside every valid key.
const TMP_DIR: &str = ".presign-tmp";

/// Answers one request under `/s3/`.
pub async fn handle(request: Request<Incoming>, state: &State, dir: &Path) -> Response<Body> {
    let resource = request.uri().path().to_owned();
    let fail =
        |status: StatusCode, code: &str, message: &str| xml_error(status, code, message, &resource);
    if !matches!(*request.method(), Method::PUT | Method::GET | Method::HEAD) {
        let mut response = fail(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The local bucket accepts presigned PUT, GET and HEAD requests only.",
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
             characters, a leading '/' or more than 1024 bytes.",
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
fn object_path(dir: &Path, key: &str) -> Option<PathBuf> {
    let safe = !key.is_empty()
        && key.len() <= 1024
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".." | TMP_DIR));
    safe.then(|| {
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
    let tmp = TempFile::new(dir.join(TMP_DIR).join(uuid::Uuid::new_v4().to_string()));
    let stored = async {
        tokio::fs::create_dir_all(dir.join(TMP_DIR)).await?;
        let mut file = tokio::fs::File::create(&tmp.path).await?;
        let mut body = request.into_body();
        let mut hash = Sha256::new();
        let mut written: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| std::io::Error::new(std::io::ErrorKind::ConnectionAborted, e))?;
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
        Err(e) => return internal(&fail, &e),
    };
    if let Some(parent) = path.parent() {
        if let Err(e) = tokio::fs::create_dir_all(parent).await {
            return internal(&fail, &e);
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
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => fail(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold (an object with this key exists).",
        ),
        Err(e) => internal(&fail, &e),
    }
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

fn internal(
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
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    fn new(path: PathBuf) -> Self {
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
    }
}

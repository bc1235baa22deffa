//! Browser POST uploads into the local bucket: `POST /s3/local` with a
//! `multipart/form-data` body, checked like S3 checks it
//! ([`crate::sigv4::verify_post`]).
//!
//! The body is read as it arrives ([`FormReader`]): the fields before the
//! file (at most 20 KB) are kept, the policy is verified as soon as the
//! file part starts, and the file's bytes go straight to a temporary file,
//! never held whole. Too many bytes stop the upload at once; too few are
//! known at the end. Only a complete, accepted file is moved into place,
//! so no error leaves anything behind.

use super::http::{empty, respond, xml_error, xml_escape, Body};
use super::local_bucket::{internal, object_path, TempFile, TMP_DIR};
use super::state::{State, LOCAL_BUCKET, LOCAL_PREFIX};
use crate::s3::{FormError, FormEvent, FormReader};
use crate::sigv4::{encode, verify_post, PostError, PostForm, VerifiedPost};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// Answers `POST /s3/local` (or `/s3/local/`).
pub async fn handle(request: Request<Incoming>, state: &State, dir: &Path) -> Response<Body> {
    let resource = request.uri().path().to_owned();
    let fail =
        |status: StatusCode, code: &str, message: &str| xml_error(status, code, message, &resource);
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut reader = match FormReader::new(content_type) {
        Ok(reader) => reader,
        Err(e) => return form_error(&fail, &e),
    };
    let mut body = request.into_body();
    let mut events = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    // Until the file part starts: read fields.
    let (filename, mut pending) = 'fields: loop {
        let Some(frame) = body.frame().await else {
            let e = reader.finish().err().unwrap_or(FormError::Malformed(
                "the body ends before its closing boundary",
            ));
            return form_error(&fail, &e);
        };
        let Ok(data) = frame.map(|f| f.into_data()) else {
            return incomplete(&fail);
        };
        let Ok(data) = data else { continue };
        if let Err(e) = reader.push(&data, &mut events) {
            return form_error(&fail, &e);
        }
        let mut drained = events.drain(..);
        while let Some(event) = drained.next() {
            match event {
                FormEvent::Field { name, value } => fields.push((name, value)),
                FormEvent::File { filename, .. } => {
                    break 'fields (filename, drained.collect::<Vec<_>>())
                }
                FormEvent::Data(_) | FormEvent::End => {}
            }
        }
    };
    let verified = {
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let form = PostForm {
            bucket: LOCAL_BUCKET,
            fields: &pairs,
            filename: filename.as_deref(),
        };
        let now = time::OffsetDateTime::now_utc();
        match verify_post(&form, now, |id| {
            (id == state.signer.credentials().access_key_id()).then_some(&state.signer)
        }) {
            Ok(verified) => verified,
            Err(e) => return post_error(&fail, &e),
        }
    };
    let Some(path) = object_path(dir, &verified.key) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "The local bucket refuses this key: empty, '.' or '..' segments, backslashes, control \
             characters, a leading '/' or more than 1024 bytes.",
        );
    };
    let max = state.config.policy.max_bytes;
    let tmp = TempFile::new(dir.join(TMP_DIR).join(uuid::Uuid::new_v4().to_string()));
    let stored: std::io::Result<Stored> = async {
        tokio::fs::create_dir_all(dir.join(TMP_DIR)).await?;
        let mut file = tokio::fs::File::create(&tmp.path).await?;
        let mut hash = Sha256::new();
        let mut written: u64 = 0;
        loop {
            for event in pending.drain(..) {
                match event {
                    FormEvent::Data(data) => {
                        written += data.len() as u64;
                        if written > max {
                            return Ok(Stored::TooLarge);
                        }
                        if let Err(e) = verified.check_length(written, false) {
                            return Ok(Stored::Refused(e));
                        }
                        hash.update(&data);
                        file.write_all(&data).await?;
                    }
                    FormEvent::End => {
                        if let Err(e) = verified.check_length(written, true) {
                            return Ok(Stored::Refused(e));
                        }
                        file.sync_all().await?;
                        return Ok(Stored::Complete(hex::encode(&hash.finalize()[..16])));
                    }
                    FormEvent::Field { .. } | FormEvent::File { .. } => {}
                }
            }
            let Some(frame) = body.frame().await else {
                return Ok(Stored::Form(reader.finish().err().unwrap_or(
                    FormError::Malformed("the body ends before its closing boundary"),
                )));
            };
            let frame =
                frame.map_err(|e| std::io::Error::new(std::io::ErrorKind::ConnectionAborted, e))?;
            if let Ok(data) = frame.into_data() {
                if let Err(e) = reader.push(&data, &mut pending) {
                    return Ok(Stored::Form(e));
                }
            }
        }
    }
    .await;
    let etag = match stored {
        Ok(Stored::Complete(etag)) => etag,
        Ok(Stored::TooLarge) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed object size.",
            )
        }
        Ok(Stored::Refused(e)) => return post_error(&fail, &e),
        Ok(Stored::Form(e)) => return form_error(&fail, &e),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => return incomplete(&fail),
        Err(e) => return internal(&fail, &e),
    };
    if let Some(parent) = path.parent() {
        if let Err(e) = tokio::fs::create_dir_all(parent).await {
            return internal(&fail, &e);
        }
    }
    if let Err(e) = tokio::fs::rename(&tmp.path, &path).await {
        return internal(&fail, &e);
    }
    success(&fields, &verified, &etag)
}

/// How the file part ended.
enum Stored {
    /// Stored in the temporary file, with this ETag.
    Complete(String),
    /// Above the server's own limit.
    TooLarge,
    /// Outside `content-length-range`.
    Refused(PostError),
    /// The body broke off or broke the syntax.
    Form(FormError),
}

/// S3's answer to an accepted upload: a redirect if the form asked for
/// one, else `success_action_status` (200, 201 with an XML document, or
/// 204, the default).
fn success(fields: &[(String, String)], verified: &VerifiedPost, etag: &str) -> Response<Body> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let quoted = format!("\"{etag}\"");
    let mut location = format!("{LOCAL_PREFIX}/{LOCAL_BUCKET}/");
    encode::encode_into(&mut location, &verified.key, encode::PATH);
    let redirect = field("success_action_redirect")
        .or_else(|| field("redirect"))
        .filter(|url| url.starts_with("http://") || url.starts_with("https://"));
    let mut response = if let Some(url) = redirect {
        let separator = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{separator}bucket={LOCAL_BUCKET}&key={}&etag={}",
            encode::component(&verified.key),
            encode::component(&quoted)
        );
        let mut response = Response::new(empty());
        *response.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(value) = HeaderValue::from_str(&target) {
            response.headers_mut().insert(LOCATION, value);
        }
        response
    } else {
        match field("success_action_status") {
            Some("201") => respond(
                StatusCode::CREATED,
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location>\
                     <Bucket>{LOCAL_BUCKET}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    xml_escape(&location),
                    xml_escape(&verified.key),
                    xml_escape(&quoted)
                ),
            ),
            Some("200") => status_only(StatusCode::OK),
            _ => status_only(StatusCode::NO_CONTENT),
        }
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&quoted) {
        headers.insert(ETAG, value);
    }
    if !headers.contains_key(LOCATION) {
        if let Ok(value) = HeaderValue::from_str(&location) {
            headers.insert(LOCATION, value);
        }
    }
    response
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(empty());
    *response.status_mut() = status;
    if status != StatusCode::NO_CONTENT {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(0));
    }
    response
}

fn post_error(
    fail: &dyn Fn(StatusCode, &str, &str) -> Response<Body>,
    error: &PostError,
) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::FORBIDDEN);
    fail(status, error.s3_code(), error.message())
}

fn form_error(
    fail: &dyn Fn(StatusCode, &str, &str) -> Response<Body>,
    error: &FormError,
) -> Response<Body> {
    let code = match error {
        FormError::FieldsTooLarge => "MaxPostPreDataLengthExceededError",
        FormError::Malformed(_) | FormError::NotMultipart => "MalformedPOSTRequest",
    };
    fail(
        StatusCode::BAD_REQUEST,
        code,
        &format!("{}.", capitalised(&error.to_string())),
    )
}

fn incomplete(fail: &dyn Fn(StatusCode, &str, &str) -> Response<Body>) -> Response<Body> {
    fail(
        StatusCode::BAD_REQUEST,
        "IncompleteBody",
        "The connection closed before the upload was complete.",
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

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

use super::body::{BodyError, Pace};
use super::http::{empty, respond, xml_error, xml_escape, Body};
use super::keys::TMP_DIR;
use super::local_bucket::{conflict, internal, is_key_conflict, object_path, TempFile};
use super::state::{State, LOCAL_BUCKET, LOCAL_PREFIX};
use crate::s3::{FormError, FormEvent, FormReader};
use crate::sigv4::{encode, verify_post, PostError, PostForm, VerifiedPost};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// Answers `POST /s3/local` (or `/s3/local/`).
pub async fn handle(request: Request<Incoming>, state: &State, dir: &Path) -> Response<Body> {
    let resource = request.uri().path().to_owned();
    match upload(request, state, dir).await {
        Ok(response) => response,
        Err(refusal) => refusal.respond(&resource),
    }
}

async fn upload(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
) -> Result<Response<Body>, Refusal> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut form = FormBody {
        reader: FormReader::new(content_type).map_err(Refusal::Form)?,
        body: request.into_body(),
        pace: Pace::new(&state.config.limits),
        events: Vec::new(),
    };
    let (fields, filename) = form.fields().await?;
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
        let current = state.signer.current();
        verify_post(&form, now, |id| {
            (id == current.signer.credentials().access_key_id()).then_some(&current.signer)
        })
        .map_err(Refusal::Policy)?
    };
    let path = object_path(dir, &verified.key).ok_or(Refusal::Key)?;
    if is_key_conflict(dir, &path) {
        return Err(Refusal::Conflict);
    }
    // Created only now: a refused form never touches the disk.
    let tmp = TempFile::new(dir.join(TMP_DIR).join(state.keys.uuid()));
    let etag = form
        .store_file(&tmp.path, &verified, state.config.policy.max_bytes)
        .await?;
    // Another upload may have made `a` or `a/b` meanwhile.
    let storage_or_conflict = |e| {
        if is_key_conflict(dir, &path) {
            Refusal::Conflict
        } else {
            Refusal::Storage(e)
        }
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(storage_or_conflict)?;
    }
    tokio::fs::rename(&tmp.path, &path)
        .await
        .map_err(storage_or_conflict)?;
    Ok(success(&fields, &verified, &etag))
}

/// A request body read as a form, frame by frame.
struct FormBody {
    reader: FormReader,
    body: Incoming,
    /// A body that stalls or trickles is cut off, as for PUTs.
    pace: Pace,
    /// Read and not yet handled.
    events: Vec<FormEvent>,
}

impl FormBody {
    /// Reads the next frame into `events`; `false` at the end of the body.
    async fn read_more(&mut self) -> Result<bool, Refusal> {
        let frame = match self.pace.next(&mut self.body).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(false),
            Err(BodyError::TooSlow) => return Err(Refusal::TooSlow),
            Err(_) => return Err(Refusal::Incomplete),
        };
        if let Ok(data) = frame.into_data() {
            self.reader
                .push(&data, &mut self.events)
                .map_err(Refusal::Form)?;
        }
        Ok(true)
    }

    /// The body ended early: why, as the reader sees it.
    fn ended(&self) -> Refusal {
        Refusal::Form(self.reader.finish().err().unwrap_or(FormError::Malformed(
            "the body ends before its closing boundary",
        )))
    }

    /// The fields before the file, and the file's name. What follows the
    /// file part's start stays in `events`.
    async fn fields(&mut self) -> Result<(Vec<(String, String)>, Option<String>), Refusal> {
        let mut fields = Vec::new();
        loop {
            let mut events = std::mem::take(&mut self.events).into_iter();
            while let Some(event) = events.next() {
                match event {
                    FormEvent::Field { name, value } => fields.push((name, value)),
                    FormEvent::File { filename, .. } => {
                        self.events = events.collect();
                        return Ok((fields, filename));
                    }
                    FormEvent::Data(_) | FormEvent::End => {}
                }
            }
            // A form closed without a file is refused at once, not read
            // to the end of a body that may never end.
            if self.reader.is_done() || !self.read_more().await? {
                return Err(self.ended());
            }
        }
    }

    /// Streams the file part into `path`, within the server's limit `max`
    /// and the policy's `content-length-range`; returns its ETag.
    async fn store_file(
        &mut self,
        path: &Path,
        verified: &VerifiedPost,
        max: u64,
    ) -> Result<String, Refusal> {
        let parent = path.parent().unwrap_or(path);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(Refusal::Storage)?;
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(Refusal::Storage)?;
        let mut hash = Sha256::new();
        let mut written: u64 = 0;
        loop {
            for event in std::mem::take(&mut self.events) {
                match event {
                    FormEvent::Data(data) => {
                        written += data.len() as u64;
                        if written > max {
                            return Err(Refusal::TooLarge);
                        }
                        verified
                            .check_length(written, false)
                            .map_err(Refusal::Policy)?;
                        hash.update(&data);
                        file.write_all(&data).await.map_err(Refusal::Storage)?;
                    }
                    FormEvent::End => {
                        verified
                            .check_length(written, true)
                            .map_err(Refusal::Policy)?;
                        file.sync_all().await.map_err(Refusal::Storage)?;
                        return Ok(hex::encode(&hash.finalize()[..16]));
                    }
                    FormEvent::Field { .. } | FormEvent::File { .. } => {}
                }
            }
            if !self.read_more().await? {
                return Err(self.ended());
            }
        }
    }
}

/// Why an upload was refused, each with S3's answer.
enum Refusal {
    /// Not a well-formed form.
    Form(FormError),
    /// The policy refuses it (or its size).
    Policy(PostError),
    /// Above the server's own limit, `UPLOAD_MAX_BYTES`.
    TooLarge,
    /// The key cannot be a file here.
    Key,
    /// An object is in the place of one of the key's folders, or the
    /// other way round.
    Conflict,
    /// The connection broke off.
    Incomplete,
    /// The body paused too long or arrived too slowly (`BODY_READ_TIMEOUT_SECONDS`,
    /// `BODY_MIN_BYTES_PER_SECOND`).
    TooSlow,
    /// The disk failed us.
    Storage(std::io::Error),
}

impl Refusal {
    fn respond(self, resource: &str) -> Response<Body> {
        let fail = |status: StatusCode, code: &str, message: &str| {
            xml_error(status, code, message, resource)
        };
        match self {
            Refusal::Form(e) => {
                let code = match e {
                    FormError::FieldsTooLarge => "MaxPostPreDataLengthExceededError",
                    FormError::Malformed(_) | FormError::NotMultipart => "MalformedPOSTRequest",
                };
                fail(
                    StatusCode::BAD_REQUEST,
                    code,
                    &format!("{}.", capitalised(&e.to_string())),
                )
            }
            Refusal::Policy(e) => fail(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN),
                e.s3_code(),
                e.message(),
            ),
            Refusal::TooLarge => fail(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed object size.",
            ),
            Refusal::Key => fail(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "The local bucket refuses this key: empty, '.' or '..' segments, backslashes, \
                 control characters, a leading '/', more than 1024 bytes or a segment over 255 bytes.",
            ),
            Refusal::Conflict => conflict(&fail),
            Refusal::Incomplete => fail(
                StatusCode::BAD_REQUEST,
                "IncompleteBody",
                "The connection closed before the upload was complete.",
            ),
            Refusal::TooSlow => fail(
                StatusCode::BAD_REQUEST,
                "RequestTimeout",
                "Your socket connection to the server was not read from or written to within the timeout period.",
            ),
            Refusal::Storage(e) => internal(&fail, &e),
        }
    }
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

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

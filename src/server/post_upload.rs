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
use super::http::{empty, respond, xml_escape, Body};
use super::keys::TMP_DIR;
use super::local_bucket::{is_key_conflict, object_path, place, TempFile};
use super::s3_error::S3Error;
use super::sniff::PrefixCheck;
use super::state::{State, LOCAL_BUCKET, LOCAL_PREFIX};
use crate::s3::{FormError, FormEvent, FormReader};
use crate::sigv4::{encode, verify_post, PostForm, VerifiedPost};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LOCATION};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// Answers `POST /s3/local` (or `/s3/local/`).
pub async fn upload(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
) -> Result<Response<Body>, S3Error> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut form = FormBody {
        reader: FormReader::new(content_type).map_err(S3Error::Form)?,
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
        .map_err(S3Error::Policy)?
    };
    let path = object_path(dir, &verified.key).ok_or(S3Error::KeyRefused)?;
    if is_key_conflict(dir, &path) {
        return Err(S3Error::KeyConflict);
    }
    // Created only now: a refused form never touches the disk.
    let tmp = TempFile::new(dir.join(TMP_DIR).join(state.keys.uuid()));
    let declared = fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map_or("", |(_, v)| v.as_str());
    let etag = form
        .store_file(
            &tmp.path,
            &verified,
            state.config.policy.max_bytes,
            PrefixCheck::new(declared),
        )
        .await?;
    place(dir, &tmp, &path, false).await?;
    state.metrics.stored_file(&path);
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
    async fn read_more(&mut self) -> Result<bool, S3Error> {
        let frame = match self.pace.next(&mut self.body).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(false),
            Err(BodyError::TooSlow) => return Err(S3Error::RequestTimeout),
            Err(_) => return Err(S3Error::IncompleteForm),
        };
        if let Ok(data) = frame.into_data() {
            self.reader
                .push(&data, &mut self.events)
                .map_err(S3Error::Form)?;
        }
        Ok(true)
    }

    /// The body ended early: why, as the reader sees it.
    fn ended(&self) -> S3Error {
        S3Error::Form(self.reader.finish().err().unwrap_or(FormError::Malformed(
            "the body ends before its closing boundary",
        )))
    }

    /// The fields before the file, and the file's name. What follows the
    /// file part's start stays in `events`.
    async fn fields(&mut self) -> Result<(Vec<(String, String)>, Option<String>), S3Error> {
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
    /// and the policy's `content-length-range`, its first bytes agreeing
    /// with its `Content-Type` field (`content`); returns its ETag.
    async fn store_file(
        &mut self,
        path: &Path,
        verified: &VerifiedPost,
        max: u64,
        mut content: PrefixCheck,
    ) -> Result<String, S3Error> {
        let parent = path.parent().unwrap_or(path);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(S3Error::Internal)?;
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(S3Error::Internal)?;
        let mut hash = Sha256::new();
        let mut written: u64 = 0;
        loop {
            for event in std::mem::take(&mut self.events) {
                match event {
                    FormEvent::Data(data) => {
                        written += data.len() as u64;
                        if written > max {
                            return Err(S3Error::EntityTooLarge);
                        }
                        verified
                            .check_length(written, false)
                            .map_err(S3Error::Policy)?;
                        content.feed(&data).map_err(S3Error::ContentMismatch)?;
                        hash.update(&data);
                        file.write_all(&data).await.map_err(S3Error::Internal)?;
                    }
                    FormEvent::End => {
                        verified
                            .check_length(written, true)
                            .map_err(S3Error::Policy)?;
                        content.finish().map_err(S3Error::ContentMismatch)?;
                        file.sync_all().await.map_err(S3Error::Internal)?;
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

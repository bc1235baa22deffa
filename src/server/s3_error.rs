//! Every error the local bucket answers, as S3 does:
//! `<Error><Code/><Message/><Resource/></Error>`, with S3's codes so that
//! S3 clients (and the page, which turns codes into advice) understand it.

use super::http::{xml_error, Body};
use super::sniff::Mismatch;
use crate::s3::FormError;
use crate::sigv4::{PostError, VerifyError, VerifyErrorKind};
use hyper::header::{HeaderValue, ALLOW};
use hyper::{Response, StatusCode};
use std::borrow::Cow;

/// Why the local bucket refuses a request.
#[derive(Debug)]
pub enum S3Error {
    /// Not a `PUT`, `GET` or `HEAD` on an object, nor a `POST` to the bucket.
    MethodNotAllowed,
    /// The presigned URL does not verify.
    Verify(VerifyError),
    /// The path names another bucket.
    NoSuchBucket,
    /// The key's percent-encoding is not UTF-8.
    KeyNotUtf8,
    /// The key cannot be a file under the bucket's directory.
    KeyRefused,
    /// `If-None-Match: *` and an object with this key exists.
    PreconditionFailed,
    /// Over `UPLOAD_MAX_BYTES`.
    EntityTooLarge,
    /// A `PUT` body shorter than its `Content-Length`, or broken framing.
    IncompleteBody,
    /// A POST form whose connection closed before its end.
    IncompleteForm,
    /// The body paused too long or came too slowly.
    RequestTimeout,
    /// An object is in the place of one of the key's folders, or the other
    /// way round.
    KeyConflict,
    /// No object has this key.
    NoSuchKey,
    /// The disk failed; the error goes to the log, not to the client.
    Internal(std::io::Error),
    /// The POST body is not a well-formed form.
    Form(FormError),
    /// The POST policy refuses the upload.
    Policy(PostError),
    /// The multipart upload is unknown, finished or aborted.
    NoSuchUpload,
    /// A part named at complete is missing or has another ETag.
    InvalidPart,
    /// The parts named at complete are not in ascending order.
    InvalidPartOrder,
    /// A part other than the last is under 5 MiB.
    EntityTooSmall,
    /// The `<CompleteMultipartUpload>` body is not well formed.
    MalformedXml,
    /// A query parameter S3 would refuse, with S3's message.
    InvalidArgument(&'static str),
    /// The object's first bytes are recognisably another type than the
    /// one it was signed with (HTML named `.png`).
    ContentMismatch(Mismatch),
}

impl S3Error {
    /// The table: status, code and message of each error.
    fn parts(&self) -> (StatusCode, &'static str, Cow<'_, str>) {
        use S3Error::*;
        let bad = StatusCode::BAD_REQUEST;
        match self {
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The local bucket accepts presigned PUT, GET and HEAD requests, the multipart calls \
                 (POST ?uploads, PUT ?partNumber&uploadId, GET, POST and DELETE ?uploadId), and POST \
                 uploads to the bucket's URL."
                    .into(),
            ),
            Verify(e) => (
                match e.kind() {
                    VerifyErrorKind::MalformedQuery => bad,
                    _ => StatusCode::FORBIDDEN,
                },
                e.s3_code(),
                e.message().into(),
            ),
            NoSuchBucket => (
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The only bucket here is 'local'.".into(),
            ),
            KeyNotUtf8 => (bad, "InvalidArgument", "The key is not valid UTF-8.".into()),
            KeyRefused => (
                bad,
                "InvalidArgument",
                "The local bucket refuses this key: empty, '.' or '..' segments, backslashes, control \
                 characters, a leading '/', a segment over 255 bytes or more than 1024 bytes."
                    .into(),
            ),
            PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold (an object with this key exists).".into(),
            ),
            EntityTooLarge => (
                bad,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed object size.".into(),
            ),
            IncompleteBody => (
                bad,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the Content-Length HTTP header.".into(),
            ),
            IncompleteForm => (
                bad,
                "IncompleteBody",
                "The connection closed before the upload was complete.".into(),
            ),
            RequestTimeout => (
                bad,
                "RequestTimeout",
                "Your socket connection to the server was not read from or written to within the timeout period.".into(),
            ),
            KeyConflict => (
                StatusCode::CONFLICT,
                "KeyConflict",
                "The local bucket keeps objects as files: a key cannot both be an object and a prefix of \
                 other keys ('a' and 'a/b')."
                    .into(),
            ),
            NoSuchKey => (
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.".into(),
            ),
            // ENOSPC, EDQUOT (`ErrorKind::StorageFull` is newer than our MSRV).
            Internal(e) if matches!(e.raw_os_error(), Some(28 | 122)) => (
                StatusCode::INSUFFICIENT_STORAGE,
                "InsufficientStorage",
                "The local bucket's disk is full; nothing was stored. Free space or raise the volume's size.".into(),
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "The local bucket could not store or read the object; see the server log.".into(),
            ),
            Form(e) => (
                bad,
                match e {
                    FormError::FieldsTooLarge => "MaxPostPreDataLengthExceededError",
                    FormError::Malformed(_) | FormError::NotMultipart => "MalformedPOSTRequest",
                },
                format!("{}.", capitalised(&e.to_string())).into(),
            ),
            NoSuchUpload => (
                StatusCode::NOT_FOUND,
                "NoSuchUpload",
                "The specified multipart upload does not exist. The upload ID might be invalid, or the \
                 multipart upload might have been aborted or completed."
                    .into(),
            ),
            InvalidPart => (
                bad,
                "InvalidPart",
                "One or more of the specified parts could not be found. The part might not have been \
                 uploaded, or the specified entity tag might not have matched the part's entity tag."
                    .into(),
            ),
            InvalidPartOrder => (
                bad,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. The parts list must be specified in \
                 order by part number."
                    .into(),
            ),
            EntityTooSmall => (
                bad,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size: every part but \
                 the last must be at least 5 MiB."
                    .into(),
            ),
            MalformedXml => (
                bad,
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published \
                 schema."
                    .into(),
            ),
            InvalidArgument(message) => (bad, "InvalidArgument", (*message).into()),
            Policy(e) => (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN),
                e.s3_code(),
                e.message().into(),
            ),
            // Not an S3 code: a real store keeps whatever bytes it is sent.
            ContentMismatch(e) => (bad, "ContentTypeMismatch", e.to_string().into()),
        }
    }

    /// The XML answer for a request to `resource` (its path).
    pub fn into_response(self, resource: &str) -> Response<Body> {
        let (status, code, message) = self.parts();
        // Like S3: what we computed, for the client to compare with its
        // own (`presign explain` prints the same two strings).
        let trace: Vec<(&str, &str)> = match &self {
            S3Error::Verify(e) => e
                .trace()
                .map(|t| {
                    vec![
                        ("StringToSign", t.string_to_sign.as_str()),
                        ("CanonicalRequest", t.canonical_request.as_str()),
                    ]
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut response = xml_error(status, code, &message, resource, &trace);
        match &self {
            S3Error::MethodNotAllowed => {
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("PUT, GET, HEAD"));
            }
            S3Error::Internal(e) => eprintln!("presign: local bucket storage error: {e}"),
            _ => {}
        }
        super::metrics::mark_s3_error(&self, &mut response);
        response
    }
}

impl From<std::io::Error> for S3Error {
    fn from(e: std::io::Error) -> Self {
        S3Error::Internal(e)
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

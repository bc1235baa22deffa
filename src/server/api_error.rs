//! Every JSON error the server answers: `{"error": code, "message": …}`.
//!
//! The codes are the page's contract (`static/uploader.js` and other clients
//! read `error`, the status and `Retry-After`), so they are all here, in
//! one table, next to their status and message.

use super::api::rfc3339;
use super::credentials::refresh::Expiring;
use super::http::{json_error, json_error_body, Body};
use crate::s3::PresignError;
use hyper::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::{Response, StatusCode};
use std::borrow::Cow;
use std::time::Duration;
use time::OffsetDateTime;

/// Why the server refuses a request to its own API (or answers one it
/// cannot route).
#[derive(Debug)]
pub enum ApiError {
    /// `POST /api/uploads` without a urlencoded form.
    UnsupportedBody,
    /// The form (or JSON body) is over this many bytes.
    FormTooLarge(usize),
    /// `POST /api/uploads/batch` without a JSON body.
    NotJson,
    /// The JSON body is malformed or not the documented shape.
    MalformedJson(String),
    /// A batch with no files or more than [`super::api_batch::MAX_FILES`].
    BatchSize(usize),
    /// The form paused too long or came too slowly.
    BodyTimeout,
    /// The body's framing is broken or it was cut short.
    MalformedBody,
    /// The form's encoding is broken: the parser's message.
    MalformedForm(String),
    /// A required field is missing or blank.
    MissingField(&'static str),
    /// `filename` is over 1024 characters.
    FilenameTooLong,
    /// `type` is not a media type.
    NotAMediaType,
    /// `method` is neither `put` nor `post`.
    UnknownMethod,
    /// `size` is not a number of bytes.
    SizeNotANumber,
    /// `size` is 0.
    EmptyFile,
    /// No usable `Host` to sign for.
    NoHost,
    /// `type` is not in `UPLOAD_ALLOWED_TYPES`.
    TypeNotAllowed {
        /// The type asked for, lower case.
        given: String,
        /// The policy's types, joined with `, `.
        allowed: String,
    },
    /// `size` is over `UPLOAD_MAX_BYTES`.
    TooLarge {
        /// The size asked for.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// `size` is over S3's 5 GiB single-PUT limit (but allowed multipart).
    SinglePutTooLarge(u64),
    /// The upload ticket is not one this server made for this key.
    InvalidTicket,
    /// The upload ticket is genuine but expired.
    TicketExpired,
    /// A part number the ticket does not allow, or a malformed list.
    InvalidPart(String),
    /// `uploadId` is not one S3 could have made.
    InvalidUploadId,
    /// The credentials expire at this time and could not be refreshed.
    CredentialsExpiring(OffsetDateTime),
    /// Signing failed although everything was checked before: a bug.
    CannotSign(PresignError),
    /// `Origin` is neither this server's nor listed.
    OriginNotAllowed,
    /// A preflight from an unlisted origin, or for a method the path does
    /// not take.
    PreflightRefused,
    /// Too many uploads from one address; wait this long.
    TooManyUploads(Duration),
    /// Too many wrong tokens from one address; wait this long.
    TooManyWrongTokens(Duration),
    /// `API_TOKEN` is set and the request does not carry it.
    Unauthorized,
    /// A `Host` a server on loopback does not answer (DNS rebinding).
    HostNotAllowed,
    /// An absolute-form request target whose host is not `Host`'s.
    TargetHostMismatch,
    /// Nothing is at this path.
    NotFound,
    /// The path takes only these methods (the `Allow` header's value).
    MethodNotAllowed(&'static str),
    /// The client's address holds its share of connections (written as
    /// raw bytes before hyper runs: [`super::connection::over_cap_response`]).
    TooManyConnections,
}

impl ApiError {
    /// The table: status, code and message of each error.
    fn parts(&self) -> (StatusCode, &'static str, Cow<'static, str>) {
        use ApiError::*;
        let bad = |message: &'static str| (StatusCode::BAD_REQUEST, "bad_request", message.into());
        match self {
            UnsupportedBody => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_body",
                "Send the fields filename, type and size as application/x-www-form-urlencoded.".into(),
            ),
            FormTooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "form_too_large",
                format!("The body is larger than {} KiB; send only the documented fields.", max / 1024).into(),
            ),
            NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_body",
                "Send {\"files\": [{\"filename\", \"type\", \"size\"}, …]} as application/json.".into(),
            ),
            MalformedJson(message) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("The JSON body is malformed: {message}.").into(),
            ),
            BatchSize(n) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!(
                    "A batch has 1 to {} files; this one has {n}.",
                    super::api_batch::MAX_FILES
                )
                .into(),
            ),
            BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "The form arrived too slowly; send it at once.".into(),
            ),
            MalformedBody => bad("The body is malformed (broken chunked encoding or cut short)."),
            MalformedForm(message) => (StatusCode::BAD_REQUEST, "bad_request", message.clone().into()),
            MissingField(name) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("The field '{name}' is missing.").into(),
            ),
            FilenameTooLong => bad("The field 'filename' is longer than 1024 characters."),
            NotAMediaType => bad("The field 'type' must be a media type such as image/png."),
            UnknownMethod => bad("The field 'method' must be put (the default) or post."),
            SizeNotANumber => bad("The field 'size' must be the file's size in bytes."),
            EmptyFile => bad("The file is empty."),
            NoHost => bad("The Host header is missing or not a valid host name."),
            TypeNotAllowed { given, allowed } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "type_not_allowed",
                format!("{given} files are not allowed; allowed: {allowed}.").into(),
            ),
            TooLarge { size, limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("The file is {size} bytes; the limit is {limit} bytes.").into(),
            ),
            SinglePutTooLarge(size) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "The file is {size} bytes; one PUT takes at most {} bytes (S3's limit): \
                     upload it with POST /api/multipart.",
                    super::config::multipart::MAX_SINGLE_PUT_BYTES
                )
                .into(),
            ),
            InvalidTicket => (
                StatusCode::FORBIDDEN,
                "invalid_ticket",
                "The upload ticket is not valid for this key; start the upload again.".into(),
            ),
            TicketExpired => (
                StatusCode::FORBIDDEN,
                "ticket_expired",
                "The upload ticket has expired; abort this upload and start it again.".into(),
            ),
            InvalidPart(message) => (StatusCode::BAD_REQUEST, "invalid_part", message.clone().into()),
            InvalidUploadId => bad("The field 'uploadId' must be 1 to 1024 printable ASCII characters."),
            CredentialsExpiring(at) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "credentials_expiring",
                format!(
                    "The server's AWS credentials expire at {} and could not be refreshed yet; \
                     no URL signed now would work. Try again in a minute.",
                    rfc3339(*at)
                )
                .into(),
            ),
            CannotSign(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("The server cannot sign this upload: {e}.").into(),
            ),
            OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "Uploads may only be requested from this server's own page or an origin in ALLOWED_ORIGINS.".into(),
            ),
            PreflightRefused => (
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "This origin is not in ALLOWED_ORIGINS, or the method is not one this path takes.".into(),
            ),
            TooManyUploads(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many uploads from your address; wait a moment and try again.".into(),
            ),
            TooManyWrongTokens(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many wrong API tokens from your address; wait a moment and try again.".into(),
            ),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "This server needs an API token: send Authorization: Bearer <token>.".into(),
            ),
            HostNotAllowed => (
                StatusCode::MISDIRECTED_REQUEST,
                "host_not_allowed",
                "This server answers loopback names only; add this host name to ALLOWED_HOSTS or PUBLIC_URL.".into(),
            ),
            TargetHostMismatch => bad(
                "The request target names another host than the Host header; send the path only (origin form).",
            ),
            NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "There is nothing at this path.".into(),
            ),
            MethodNotAllowed(allow) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("This path accepts {allow} only.").into(),
            ),
            TooManyConnections => (
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_connections",
                "Your address has too many open connections; close some.".into(),
            ),
        }
    }

    /// The status and the JSON body, for answers written before hyper runs.
    pub fn status_and_body(&self) -> (StatusCode, String) {
        let (status, code, message) = self.parts();
        (status, json_error_body(code, &message))
    }

    /// The JSON answer, with the headers some errors need (`Retry-After`,
    /// `WWW-Authenticate`, `Allow`).
    pub fn into_response(self) -> Response<Body> {
        let (status, code, message) = self.parts();
        let mut response = json_error(status, code, &message);
        let headers = response.headers_mut();
        match self {
            ApiError::TooManyUploads(wait) | ApiError::TooManyWrongTokens(wait) => {
                let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                headers.insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            }
            ApiError::CredentialsExpiring(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("30"));
            }
            ApiError::Unauthorized => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::MethodNotAllowed(allow) => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        super::metrics::mark_api_error(&self, &mut response);
        response
    }
}

impl From<Expiring> for ApiError {
    fn from(Expiring(at): Expiring) -> Self {
        ApiError::CredentialsExpiring(at)
    }
}

impl From<PresignError> for ApiError {
    fn from(e: PresignError) -> Self {
        ApiError::CannotSign(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_round_retry_after_up() {
        let response = ApiError::TooManyUploads(Duration::from_millis(1500)).into_response();
        assert_eq!(response.headers()[RETRY_AFTER], "2");
        let response = ApiError::TooManyUploads(Duration::ZERO).into_response();
        assert_eq!(response.headers()[RETRY_AFTER], "1");
    }
}

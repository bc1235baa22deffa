//! Response building blocks: the body type, JSON and S3-XML errors, and a
//! body that streams a file.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Every response body: in memory or streamed from a file.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A body held in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// No body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A response with a body and a content type.
pub fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let body = body.into();
    let length = HeaderValue::from(body.len());
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, length);
    response
}

/// `{"error": code, "message": message}` with `status`.
pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    respond(status, "application/json", json_error_body(code, message))
}

/// `{"error": code, "message": message}`.
pub fn json_error_body(code: &str, message: &str) -> String {
    format!(
        "{{\"error\":{},\"message\":{}}}",
        json_string(code),
        json_string(message)
    )
}

/// An S3-style XML error, as S3-compatible clients expect, with `extra`
/// elements such as S3's `<CanonicalRequest>`.
pub fn xml_error(
    status: StatusCode,
    code: &str,
    message: &str,
    resource: &str,
    extra: &[(&str, &str)],
) -> Response<Body> {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(resource)
    );
    for (name, value) in extra {
        body.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    body.push_str("</Error>");
    respond(status, "application/xml", body)
}

/// A JSON string literal.
pub fn json_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_json_string(&mut out, value);
    out
}

/// Appends `value` as a JSON string literal.
pub fn push_json_string(out: &mut String, value: &str) {
    crate::sigv4::json::write_string(out, value);
}

/// Text safe inside XML elements and attributes.
pub fn xml_escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A chunk of a served file. It is held about three times per response (our
/// buffer, the file's own, the chunk queued for the socket): at 64 KiB,
/// 1,000 clients that stopped reading held 200 MB until the write timeout;
/// at 16 KiB, half of that (benches/slow_clients.py), and one GET still
/// streams at over 100 MB/s.
const FILE_CHUNK_BYTES: usize = 16 * 1024;

/// Streams an open file of known length in [`FILE_CHUNK_BYTES`] chunks, so
/// serving an object never holds it in memory.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buffer: Box<[u8]>,
}

impl FileBody {
    /// A body of the `len` bytes of `file`.
    pub fn new(file: tokio::fs::File, len: u64) -> Self {
        FileBody {
            file,
            remaining: len,
            buffer: vec![0; FILE_CHUNK_BYTES].into_boxed_slice(),
        }
    }
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = this
            .buffer
            .len()
            .min(usize::try_from(this.remaining).unwrap_or(usize::MAX));
        let mut read = ReadBuf::new(&mut this.buffer[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if read.filled().is_empty() => {
                Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "object file shrank while being served",
                ))))
            }
            Poll::Ready(Ok(())) => {
                let chunk = Bytes::copy_from_slice(read.filled());
                this.remaining -= chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(
            json_string("a\"b\\c\n<x>\u{1}"),
            "\"a\\\"b\\\\c\\n<x>\\u0001\""
        );
    }
}

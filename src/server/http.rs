//! Response building blocks: the body type, JSON and S3-XML errors, and a
//! body that streams a file.

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Every response body: bytes in memory (sent as one frame; none for an
/// empty body), or a file streamed in chunks ([`FileBody`]).
///
/// One enum instead of a boxed trait object: no allocation per response,
/// and no dependency for the box (hyper's `Body` trait is all it needs).
pub struct Body(Kind);

enum Kind {
    /// Taken out by the first frame; empty from then on.
    Bytes(Bytes),
    File(FileBody),
}

/// A body held in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Body(Kind::Bytes(bytes.into()))
}

/// No body.
pub fn empty() -> Body {
    Body(Kind::Bytes(Bytes::new()))
}

impl From<FileBody> for Body {
    fn from(file: FileBody) -> Self {
        Body(Kind::File(file))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match &mut self.get_mut().0 {
            Kind::Bytes(bytes) if bytes.is_empty() => Poll::Ready(None),
            Kind::Bytes(bytes) => Poll::Ready(Some(Ok(Frame::data(std::mem::take(bytes))))),
            Kind::File(file) => Pin::new(file).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Bytes(bytes) => bytes.is_empty(),
            Kind::File(file) => file.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Bytes(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Kind::File(file) => file.size_hint(),
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Bytes(bytes) => write!(f, "Body({} bytes in memory)", bytes.len()),
            Kind::File(file) => write!(f, "Body({} bytes of a file to send)", file.remaining),
        }
    }
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
    use hyper::body::Body as _;
    use std::future::poll_fn;

    /// The data frames of `body` until its end, checking what it says of
    /// itself before each.
    fn frames(mut body: Body) -> Vec<Bytes> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut out = Vec::new();
        loop {
            let left = body.size_hint().exact().unwrap();
            assert_eq!(body.is_end_stream(), left == 0);
            let frame = runtime.block_on(poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)));
            match frame {
                None => return out,
                Some(frame) => out.push(frame.unwrap().into_data().unwrap()),
            }
        }
    }

    #[test]
    fn a_full_body_is_one_frame_and_an_empty_one_none() {
        assert_eq!(frames(full("hello")), vec![Bytes::from("hello")]);
        assert!(frames(empty()).is_empty());
        assert!(frames(full("")).is_empty());
    }

    #[test]
    fn a_file_body_streams_the_file_in_chunks() {
        let path = std::env::temp_dir().join(format!("presign-file-body-{}", std::process::id()));
        let content: Vec<u8> = (0..FILE_CHUNK_BYTES * 2 + 5).map(|i| i as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = tokio::fs::File::from_std(std::fs::File::open(&path).unwrap());
        let chunks = frames(FileBody::new(file, content.len() as u64).into());
        std::fs::remove_file(&path).unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), content);
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(
            json_string("a\"b\\c\n<x>\u{1}"),
            "\"a\\\"b\\\\c\\n<x>\\u0001\""
        );
    }
}

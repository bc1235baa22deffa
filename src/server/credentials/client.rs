//! A plain-HTTP client for link-local and loopback credential endpoints:
//! hyper's own HTTP/1 connection over a tokio socket, no TLS, no pool.
//!
//! Connecting may take 1 s and the answer 2 s: these endpoints are one hop
//! away, and one that does not answer that fast is misconfigured rather
//! than slow (on EC2 in a container, the IMDSv2 hop limit). Refused or
//! reset connections and 5xx answers are retried twice with back-off;
//! timeouts are not, so a missing endpoint fails in seconds.

use crate::s3::Endpoint;
use crate::server::body::next_frame;
use crate::server::http::empty;
use crate::server::rt::TokioIo;
use bytes::{Bytes, BytesMut};
use hyper::body::Incoming;
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use std::fmt;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the answer may take once connected.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Credential answers are a few KB; anything larger is not one.
const MAX_BODY: usize = 64 * 1024;
const ATTEMPTS: u32 = 3;

/// An HTTP answer, status and body.
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// The body as one line for an error message: printable ASCII only,
    /// at most 200 characters. Only for answers that are not credentials.
    pub fn body_excerpt(&self) -> String {
        let text: String = String::from_utf8_lossy(&self.body)
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
            .collect();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        text.chars().take(200).collect()
    }
}

/// Why no answer came.
#[derive(Debug)]
pub enum Failure {
    /// No connection within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// Connected, but no whole answer within [`READ_TIMEOUT`].
    ReadTimeout,
    /// Refused, reset, or not HTTP.
    Io(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ConnectTimeout => write!(f, "no connection within {CONNECT_TIMEOUT:?}"),
            Failure::ReadTimeout => write!(f, "no answer within {READ_TIMEOUT:?}"),
            Failure::Io(e) => f.write_str(e),
        }
    }
}

/// Sends `method path` to the host and port of `url` with `headers` and
/// an empty body; retries refused connections and 5xx answers. `path` is
/// sent as given (IMDS tells `…/security-credentials/` from
/// `…/security-credentials`).
pub async fn send(
    method: Method,
    url: &Endpoint,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, Failure> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = send_once(method.clone(), url, path, headers).await;
        let retry = match &result {
            Ok(answer) => answer.status.is_server_error(),
            Err(Failure::Io(_)) => true,
            Err(_) => false,
        };
        if !retry || attempt == ATTEMPTS {
            return result;
        }
        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
    }
}

async fn send_once(
    method: Method,
    url: &Endpoint,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, Failure> {
    let host = url.host().trim_start_matches('[').trim_end_matches(']');
    // `localhost` is loopback (RFC 6761), and resolving it ourselves keeps
    // the static binary in a `FROM scratch` image off the system resolver,
    // which there has neither `/etc/hosts` nor NSS modules to read it with.
    let host = if host.eq_ignore_ascii_case("localhost") {
        "127.0.0.1"
    } else {
        host
    };
    let port = url.port().unwrap_or(80);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| Failure::ConnectTimeout)?
        .map_err(|e| Failure::Io(format!("cannot connect: {e}")))?;
    let exchange = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection's own task; it ends with the answer, or with the
        // timeout below dropping the sender.
        tokio::spawn(tokio::time::timeout(READ_TIMEOUT, connection));
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, url.authority(url.host()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(empty())
            .map_err(|e| Failure::Io(format!("bad request: {e}")))?;
        let (parts, body) = sender.send_request(request).await?.into_parts();
        let body = read_at_most(body, MAX_BODY)
            .await
            .map_err(|e| Failure::Io(format!("reading the answer: {e}")))?;
        Ok::<_, Failure>(Answer {
            status: parts.status,
            body,
        })
    };
    tokio::time::timeout(READ_TIMEOUT, exchange)
        .await
        .map_err(|_| Failure::ReadTimeout)?
}

/// The whole of `body`, or an error past `max` bytes.
async fn read_at_most(mut body: Incoming, max: usize) -> Result<Bytes, String> {
    let mut out = BytesMut::new();
    while let Some(frame) = next_frame(&mut body).await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > max {
                return Err("length limit exceeded".into());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

impl From<hyper::Error> for Failure {
    fn from(e: hyper::Error) -> Self {
        Failure::Io(format!("HTTP: {e}"))
    }
}

//! The yardstick of `benches/load.sh`: a bare hyper 1.x server answering
//! every request with the same small JSON body, on the same single-threaded
//! runtime, `TCP_NODELAY` and HTTP/1.1 stack as `presign`, and nothing else.
//!
//!   cargo run --release --example bare_hyper -- 127.0.0.1:3918
#![forbid(unsafe_code)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

const BODY: &[u8] =
    br#"{"key":"uploads/2026/01/01/00000000-0000-4000-8000-000000000000.jpg","method":"PUT"}"#;

fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or("127.0.0.1:3918".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!(
            "bare hyper: listening on http://{}/",
            listener.local_addr()?
        );
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let service = service_fn(|_request| async {
                let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
                let json = HeaderValue::from_static("application/json");
                response.headers_mut().insert(CONTENT_TYPE, json);
                Ok::<_, Infallible>(response)
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    })
}

//! The floor of `benches/load.sh`: the bare hyper server of
//! `bare_hyper.rs`, but answering each `POST` with the work `POST
//! /api/uploads` cannot skip: it reads the body, makes a random key, signs
//! the same presigned PUT (three headers) and GET with this crate's
//! [`Bucket::presign`], and writes the same JSON shape. No routing, form
//! parsing, checks, limits, timeouts, log or metrics. What `presign` spends
//! above this is the server around the signing; what this spends above
//! `bare_hyper` is the signing itself.
//!
//!   cargo run --release --example bare_presign -- 127.0.0.1:3919
#![forbid(unsafe_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Response;
use hyper_util::rt::TokioIo;
use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{Credentials, Signer};
use std::rc::Rc;
use time::OffsetDateTime;

fn main() -> std::io::Result<()> {
    let listen = std::env::args().nth(1).unwrap_or("127.0.0.1:3919".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let signer = Rc::new(Signer::new(
        Credentials::new(
            "LOCALEXAMPLEKEY00000",
            "local-example-secret-key-0000000000000000",
        ),
        "us-east-1",
        "s3",
    ));
    let endpoint = Endpoint::parse(&format!("http://{listen}/s3")).expect("endpoint");
    let bucket = Rc::new(
        Bucket::new(endpoint, "local", "us-east-1", AddressingStyle::Path).expect("bucket"),
    );
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!(
            "bare presign: listening on http://{}/",
            listener.local_addr()?
        );
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let (signer, bucket) = (signer.clone(), bucket.clone());
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let (signer, bucket) = (signer.clone(), bucket.clone());
                async move {
                    // The form itself is not parsed: the floor reads it, no more.
                    let _form = request.into_body().collect().await?.to_bytes();
                    let body = answer(&signer, &bucket);
                    let mut response = Response::new(Full::new(Bytes::from(body)));
                    let json = HeaderValue::from_static("application/json");
                    response.headers_mut().insert(CONTENT_TYPE, json);
                    Ok::<_, hyper::Error>(response)
                }
            });
            tokio::task::spawn_local(
                http1::Builder::new().serve_connection(TokioIo::new(stream), service),
            );
        }
    })
}

/// 64 bits no two requests share (SipHash of a counter under a random key):
/// a name as unique as the server's, at less cost.
fn random() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    thread_local! {
        static STATE: (RandomState, std::cell::Cell<u64>) = Default::default();
    }
    STATE.with(|(keys, counter)| {
        counter.set(counter.get() + 1);
        keys.hash_one(counter.get())
    })
}

/// The two URLs and the JSON of one upload, as the server answers it.
fn answer(signer: &Signer, bucket: &Bucket) -> String {
    let now = OffsetDateTime::now_utc();
    let key = format!(
        "uploads/{:04}/{:02}/{:02}/{:016x}{:016x}.jpg",
        now.year(),
        u8::from(now.month()),
        now.day(),
        random(),
        random()
    );
    let headers = [
        ("content-type", "image/jpeg"),
        ("content-length", "123456"),
        ("if-none-match", "*"),
    ];
    let put = ObjectRequest {
        headers: &headers,
        ..ObjectRequest::new("PUT", &key)
    };
    let upload = bucket.presign(signer, &put, now, 300).expect("presign PUT");
    let view = bucket
        .presign(signer, &ObjectRequest::new("GET", &key), now, 900)
        .expect("presign GET");
    let t = upload.expires_at;
    let expires_at = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    // Keys, URLs and these headers need no JSON escaping.
    format!(
        r#"{{"key":"{key}","method":"PUT","url":"{}","headers":{{"content-type":"image/jpeg","if-none-match":"*"}},"expiresAt":"{expires_at}","viewUrl":"{}"}}"#,
        upload.url, view.url
    )
}

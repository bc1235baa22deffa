//! The upload server (feature `server`).
//!
//! | file | concern |
//! | --- | --- |
//! | [`config`] | environment, `.env` and AWS profile files into a [`Config`] |
//! | [`credentials`] | the AWS credential chain (env, profile, container, IMDS) and its refresh |
//! | `serve` | [`Server`] and [`run`]: start (credentials, local bucket), accept loop, connection cap, graceful shutdown |
//! | `rt`, `graceful` | hyper over tokio: socket I/O and timers (no `unsafe`), connections told to finish on shutdown |
//! | `connection` | per-address connection cap and its answer, write timeout, buffer size |
//! | `routes` | `match (method, path)`, security headers, the access log's entry |
//! | `access_log` | lines into a bounded buffer, written to stderr in batches by a thread |
//! | `hosts`, `cors` | `Host` check (DNS rebinding), CORS for `ALLOWED_ORIGINS` |
//! | `body` | request bodies read against a deadline and a minimum rate |
//! | `api`, `api_post` | `GET /api/config`, `POST /api/uploads` (a presigned PUT, or with `method=post` a POST form) |
//! | `api_batch` | `POST /api/uploads/batch`: presigned PUTs for up to 100 files in one request |
//! | `api_multipart`, `ticket` | `POST /api/multipart[/parts,/list,/complete,/abort]`: presigned multipart calls, kept to what an HMAC upload ticket allows |
//! | `local_bucket` | the built-in bucket at `/s3/local/…`: presigned `PUT`/`GET`/`HEAD` verified with [`crate::sigv4`], files placed atomically |
//! | `local_multipart`, `multipart_part`, `multipart_xml` | the local bucket's multipart calls: parts in temporary files (one per number, its ETag inside, replaced by one rename), completed by one atomic rename, abandoned uploads swept; their XML |
//! | `spool` | a `PUT` or part body into a temporary file, hashed, disk writes overlapping network reads |
//! | `post_upload` | browser POST uploads into it, streamed and checked against their policy |
//! | `sniff` | what an object's first bytes are, and whether they contradict its signed type (the local bucket refuses that) |
//! | `api_error`, `s3_error` | every JSON error of the API and every S3 XML error of the local bucket: one table each |
//! | `assets` | the page and the `<presign-uploader>` module from `static/`, embedded, with its CSP and CORS |
//! | `metrics` | `GET /metrics` (behind `METRICS_TOKEN`): atomic counters, Prometheus text |
//! | `keys` | object keys for uploads, unguessable, without a system call each |
//! | `rate_limit`, `form`, `http`, `state` | the small parts they share |
//!
//! A request flows: `serve` → `routes` → `api` (which signs with
//! [`crate::s3::Bucket::presign`] or [`crate::s3::Bucket::presign_post`])
//! or `local_bucket` (which verifies with [`crate::sigv4::verify_presigned`],
//! or `post_upload` with [`crate::sigv4::verify_post`], and streams to
//! disk). A refusal on the way is an `ApiError` or an `S3Error`.
//!
//! Embedding it: [`run`] serves a [`Config`] on a listener until a
//! shutdown future completes. [`Server`] is the same in two steps; the
//! `presign` binary wraps it with its arguments, signals and banner.
//!
//! ```no_run
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use presign::server::{run, Config, Vars};
//! let config = Config::load(&Vars::from_process()?, Some("127.0.0.1:3000"))?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! run(listener, config, std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```

mod access_log;
mod api;
mod api_batch;
mod api_error;
mod api_multipart;
mod api_post;
mod assets;
mod body;
pub mod config;
mod connection;
mod cors;
pub mod credentials;
mod form;
mod graceful;
mod hosts;
mod http;
mod keys;
mod local_bucket;
mod local_multipart;
mod metrics;
mod multipart_part;
mod multipart_xml;
mod post_upload;
mod rate_limit;
mod routes;
mod rt;
mod s3_error;
mod serve;
mod sniff;
mod spool;
mod state;
mod ticket;

pub use config::{AccessLogFormat, Config, ConfigError, Vars};
pub use serve::{run, Server};

//! The upload server (feature `server`).
//!
//! | file | concern |
//! | --- | --- |
//! | [`config`] | environment, `.env` and AWS profile files into a [`Config`] |
//! | [`credentials`] | the AWS credential chain (env, profile, container, IMDS) and its refresh |
//! | `serve` | accept loop, connection cap, graceful shutdown: [`run`] |
//! | `connection` | per-address connection cap, write timeout, buffer size |
//! | `routes` | `match (method, path)`, security headers, the access log's entry |
//! | `access_log` | lines into a bounded buffer, written to stderr in batches by a thread |
//! | `hosts`, `cors` | `Host` check (DNS rebinding), CORS for `ALLOWED_ORIGINS` |
//! | `body` | request bodies read against a deadline and a minimum rate |
//! | `api`, `api_post` | `GET /api/config`, `POST /api/uploads` (a presigned PUT, or with `method=post` a POST form) |
//! | `local_bucket` | the built-in bucket at `/s3/local/…`, verified with [`crate::sigv4`] |
//! | `post_upload` | browser POST uploads into it, streamed and checked against their policy |
//! | `api_error`, `s3_error` | every JSON error of the API and every S3 XML error of the local bucket: one table each |
//! | `assets` | the page from `static/`, embedded, with its CSP |
//! | `rate_limit`, `form`, `http`, `state` | the small parts they share |
//!
//! A request flows: `serve` → `routes` → `api` (which signs with
//! [`crate::s3::Bucket::presign`]) or `local_bucket` (which verifies with
//! [`crate::sigv4::verify_presigned`] and streams to disk).

mod access_log;
mod api;
mod api_error;
mod api_post;
mod assets;
mod body;
pub mod config;
mod connection;
mod cors;
pub mod credentials;
mod form;
mod hosts;
mod http;
mod keys;
mod local_bucket;
mod post_upload;
mod rate_limit;
mod routes;
mod s3_error;
mod serve;
mod state;

pub use config::{AccessLogFormat, Config, ConfigError, Vars};
pub use serve::run;

use std::process::ExitCode;

/// `presign serve [--listen ADDR]`: loads the configuration from the
/// environment, serves until SIGINT/SIGTERM, exits 0.
pub fn main(args: &[String]) -> ExitCode {
    let listen = match args {
        [] => None,
        [flag, addr] if flag == "--listen" => Some(addr.as_str()),
        _ => {
            eprintln!("presign: usage: presign serve [--listen ADDR]");
            return ExitCode::from(2);
        }
    };
    let config = match Vars::from_process().and_then(|vars| Config::load(&vars, listen)) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("presign: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread by default: a few MB of memory and no cross-thread wake-ups;
    // WORKER_THREADS spreads connections over more cores.
    let runtime = match config.limits.worker_threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("presign: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve_until_signal(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("presign: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_until_signal(config: Config) -> std::io::Result<()> {
    // Handlers go in before the banner: whoever reads "listening" may
    // send SIGTERM at once, and must get a graceful stop, not a kill.
    let shutdown = shutdown_signal()?;
    // Credentials before listening: a provider that fails stops the start.
    let state = state::State::start(config).await?;
    let config = &state.config;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen))
        })?;
    let address = listener.local_addr()?;
    println!("presign: listening on http://{address}/");
    println!("{}", config.summary());
    if let Some(expires) = state.signer.current().expires {
        println!(
            "credentials: valid until {}; refreshed in the background before then",
            api::rfc3339(expires)
        );
    }
    for warning in &config.warnings {
        println!("warning: {warning}");
    }
    let active = config.policy.active_types();
    if !active.is_empty() {
        println!(
            "warning: UPLOAD_ALLOWED_TYPES allows {}, which browsers can run as code: serve such uploads \
             from a separate domain with Content-Disposition: attachment",
            active.join(", ")
        );
    }
    serve::serve(listener, state, shutdown).await?;
    println!("presign: stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are registered when this
/// is called, not when the future is first polled.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(std::future::poll_fn(move |cx| {
        match (interrupt.poll_recv(cx), terminate.poll_recv(cx)) {
            (std::task::Poll::Pending, std::task::Poll::Pending) => std::task::Poll::Pending,
            _ => std::task::Poll::Ready(()),
        }
    }))
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

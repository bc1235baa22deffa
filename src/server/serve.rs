//! Starting and serving: [`Server::start`] gets the credentials and the
//! local bucket ready; the accept loop adds a connection cap (overall and
//! per address), hyper per connection, and graceful shutdown.

use super::api::rfc3339;
use super::config::Config;
use super::connection::{over_cap_response, PerAddressCap, WriteTimeout, MAX_BUFFER_BYTES};
use super::graceful::{unless_stopped, Graceful};
use super::rt::{TokioIo, TokioTimer};
use super::state::State;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Serves `config` on `listener` until `shutdown` completes, then stops
/// accepting and gives in-flight requests `config.limits.shutdown_grace`
/// to finish.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    Server::start(config).await?.serve(listener, shutdown).await
}

/// A server ready to serve: its credentials fetched and its local bucket's
/// directory prepared. [`run`] in two steps, for a program that wants to
/// stop before listening when the start fails, or to tell what it started.
#[derive(Debug)]
pub struct Server {
    state: State,
}

impl Server {
    /// Fetches the credentials (and starts refreshing them) and prepares
    /// the local bucket. A credential provider that fails, or credentials
    /// too close to expiry, stop the start with a one-line reason.
    pub async fn start(config: Config) -> std::io::Result<Server> {
        Ok(Server {
            state: State::start(config).await?,
        })
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// What its operator should know, one line each: the configuration's
    /// summary, when temporary credentials expire, and every warning.
    pub fn notices(&self) -> Vec<String> {
        let config = self.config();
        let mut lines = vec![config.summary()];
        if let Some(expires) = self.state.signer.current().expires {
            lines.push(format!(
                "credentials: valid until {}; refreshed in the background before then",
                rfc3339(expires)
            ));
        }
        lines.extend(config.warnings.iter().map(|w| format!("warning: {w}")));
        let active = config.policy.active_types();
        if !active.is_empty() {
            lines.push(format!(
                "warning: UPLOAD_ALLOWED_TYPES allows {}, which browsers can run as code: serve such uploads \
                 from a separate domain with Content-Disposition: attachment",
                active.join(", ")
            ));
        }
        lines
    }

    /// Serves on `listener` until `shutdown` completes, then stops
    /// accepting and gives in-flight requests `SHUTDOWN_GRACE_SECONDS` to
    /// finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        serve(listener, self.state, shutdown).await
    }
}

async fn serve(
    listener: TcpListener,
    state: State,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = &state.config;
    let grace = config.limits.shutdown_grace;
    let header_timeout = config.limits.header_read_timeout;
    let write_timeout = config.limits.write_timeout;
    let per_address = PerAddressCap::new(config.limits.max_connections_per_ip);
    // A permit per connection: past the cap, new clients wait in the
    // kernel's backlog instead of exhausting memory or file descriptors.
    let permits = Arc::new(Semaphore::new(config.limits.max_connections.max(1)));
    let state = Arc::new(state);
    let over_cap = over_cap_response();
    let graceful = Graceful::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = match unless_stopped(permits.clone().acquire_owned(), shutdown.as_mut()).await
        {
            Some(Ok(permit)) => permit,
            Some(Err(_)) | None => break,
        };
        let (stream, client) = match unless_stopped(listener.accept(), shutdown.as_mut()).await {
            Some(Ok(accepted)) => accepted,
            Some(Err(e)) => {
                // Usually out of file descriptors: back off, don't spin.
                eprintln!("presign: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            None => break,
        };
        let Some(slot) = per_address.try_acquire(client.ip()) else {
            // Best effort: a client too busy to take 200 bytes gets a reset.
            let _ = stream.try_write(&over_cap);
            state.metrics.refused_connection();
            continue;
        };
        let _ = stream.set_nodelay(true);
        let counted = state.clone();
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(super::routes::handle(request, &state, client).await) }
        });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _open = counted.metrics.open_connection();
            // Made and pinned inside the task, and lent to the watcher: a
            // connection moved into the task, or into `serve`, is stored in
            // the task twice (1,136 bytes per connection this way; 2,432
            // moved in twice, 1,784 with hyper-util's watcher).
            let connection = pin!(http1::Builder::new()
                .timer(TokioTimer)
                .header_read_timeout(header_timeout)
                .max_buf_size(MAX_BUFFER_BYTES)
                .serve_connection(
                    TokioIo::new(WriteTimeout::new(stream, write_timeout)),
                    service,
                ));
            // Errors here are clients going away or timing out: not ours.
            let _ = watcher
                .serve(connection, |connection| connection.graceful_shutdown())
                .await;
            drop((permit, slot));
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "presign: {} s shutdown grace elapsed; closing remaining connections",
            grace.as_secs()
        );
    }
    Ok(())
}

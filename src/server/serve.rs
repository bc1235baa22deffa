//! The accept loop: a connection cap, hyper per connection, and graceful
//! shutdown.

use super::config::Config;
use super::state::State;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
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
    serve(listener, State::start(config).await?, shutdown).await
}

/// [`run`] with its state already started.
pub(super) async fn serve(
    listener: TcpListener,
    state: State,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let config = &state.config;
    let grace = config.limits.shutdown_grace;
    let header_timeout = config.limits.header_read_timeout;
    // A permit per connection: past the cap, new clients wait in the
    // kernel's backlog instead of exhausting memory or file descriptors.
    let permits = Arc::new(Semaphore::new(config.limits.max_connections.max(1)));
    let state = Arc::new(state);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Usually out of file descriptors: back off, don't spin.
                    eprintln!("presign: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(super::routes::handle(request, &state, client).await) }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are clients going away or timing out: not ours.
            let _ = connection.await;
            drop(permit);
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

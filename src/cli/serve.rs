//! `presign serve [--listen ADDR]`: the process around
//! [`presign::server`]: arguments, exit codes, the runtime, signals and
//! the banner.

use presign::server::{Config, Server, Vars};
use std::future::Future;
use std::process::ExitCode;

/// Loads the configuration from the environment, serves until
/// SIGINT/SIGTERM, exits 0; a bad argument or configuration exits 2, a
/// failed start 1.
pub fn run(args: &[String]) -> ExitCode {
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
    let server = Server::start(config).await?;
    let listen = server.config().listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}")))?;
    println!("presign: listening on http://{}/", listener.local_addr()?);
    for line in server.notices() {
        println!("{line}");
    }
    server.serve(listener, shutdown).await?;
    println!("presign: stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are registered when this
/// is called, not when the future is first polled.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use std::task::Poll;
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(std::future::poll_fn(move |cx| {
        match (interrupt.poll_recv(cx), terminate.poll_recv(cx)) {
            (Poll::Pending, Poll::Pending) => Poll::Pending,
            _ => Poll::Ready(()),
        }
    }))
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

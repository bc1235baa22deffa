//! Graceful shutdown: [`Graceful`] tells every open connection to finish
//! the request it is on and close, then waits until all have.
//!
//! One `watch` channel does both: each connection's task holds a receiver
//! ([`Watcher`]); shutdown sends once, and the channel reports itself closed
//! when the last task has ended and dropped its receiver.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use tokio::sync::watch;

/// The open connections, told to finish together.
#[derive(Debug)]
pub struct Graceful {
    stop: watch::Sender<()>,
}

/// One connection's end of [`Graceful`].
#[derive(Debug)]
pub struct Watcher {
    stop: watch::Receiver<()>,
}

impl Graceful {
    /// No connections yet.
    pub fn new() -> Self {
        Graceful {
            stop: watch::channel(()).0,
        }
    }

    /// For a new connection. Made before shutdown begins (in the accept
    /// loop), so every watcher sees the one message sent.
    pub fn watcher(&self) -> Watcher {
        Watcher {
            stop: self.stop.subscribe(),
        }
    }

    /// Tells every watched connection to finish, and completes once all
    /// have (their watchers dropped).
    pub async fn shutdown(self) {
        self.stop.send_replace(());
        self.stop.closed().await;
    }
}

impl Watcher {
    /// Drives `connection` (pinned by the caller, so that it is not
    /// moved into this future too) to its end. Once shutdown begins,
    /// `graceful_shutdown` asks it to finish (hyper's own: the request in
    /// flight is answered, no new one read), and it is driven on until it
    /// has.
    pub async fn serve<C: Future>(
        mut self,
        mut connection: Pin<&mut C>,
        graceful_shutdown: impl FnOnce(Pin<&mut C>),
    ) -> C::Output {
        let stopping = pin!(async {
            // An error means the sender is gone: stopping too.
            let _ = self.stop.changed().await;
        });
        if let Some(done) = unless_stopped(connection.as_mut(), stopping).await {
            return done;
        }
        graceful_shutdown(connection.as_mut());
        connection.await
    }
}

/// `work`'s output, or `None` once `stop` has completed. In plain code:
/// the crate builds tokio without its macros (`select!`).
pub async fn unless_stopped<T>(
    work: impl Future<Output = T>,
    mut stop: Pin<&mut impl Future<Output = ()>>,
) -> Option<T> {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        work.as_mut().poll(cx).map(Some)
    })
    .await
}

//! What one client may hold: a cap on connections per address, and a
//! write timeout that drops a connection whose client stopped reading.

use super::api_error::ApiError;
use super::rate_limit::client_key;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The largest request head, and the most a connection buffers for
/// writing: browsers' heads are a few KB; hyper's default of ~400 KB per
/// connection let a thousand unfinished heads hold 400 MB.
pub const MAX_BUFFER_BYTES: usize = 32 * 1024;

/// Open connections per client address ([`client_key`]), capped.
#[derive(Debug)]
pub struct PerAddressCap {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address until dropped.
#[derive(Debug)]
pub struct AddressSlot {
    cap: Arc<PerAddressCap>,
    key: IpAddr,
}

impl PerAddressCap {
    /// At most `max` connections per address.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(PerAddressCap {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a connection from `ip`, or `None` if its address holds
    /// `max` already. The map holds one entry per address with an open
    /// connection, so it is bounded by the connection cap.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            cap: self.clone(),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.cap.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The answer to a connection over its address's cap, written without
/// reading the request: the client learns why instead of seeing a reset.
/// Made once, before the accept loop.
pub fn over_cap_response() -> Vec<u8> {
    let (status, body) = ApiError::TooManyConnections.status_and_body();
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A stream whose writes fail with `TimedOut` once they have made no
/// progress for `timeout`: a client that stops reading its response is
/// let go, and the buffers of its response with it.
#[derive(Debug)]
pub struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Fires `timeout` after the first write that could not proceed;
    /// re-armed on each stall, allocated once.
    stall: Pin<Box<Sleep>>,
    stalled: bool,
}

impl<S> WriteTimeout<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stall: Box::pin(tokio::time::sleep(timeout)),
            stalled: false,
        }
    }

    /// `Pending` until the stall has lasted `timeout`, then the error.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if !self.stalled {
            self.stalled = true;
            let deadline = Instant::now() + self.timeout;
            self.stall.as_mut().reset(deadline);
        }
        ready!(self.stall.as_mut().poll(cx));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing of its response within the write timeout",
        ))
    }

    fn progress<T>(
        &mut self,
        poll: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                self.stalled = false;
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stall(cx).map(Err),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progress(poll, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progress(poll, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.progress(poll, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.progress(poll, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_cap_and_slots_return_on_drop() {
        let cap = PerAddressCap::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = cap.try_acquire(a).unwrap();
        let _second = cap.try_acquire(a).unwrap();
        assert!(cap.try_acquire(a).is_none());
        assert!(cap.try_acquire(b).is_some());
        drop(first);
        assert!(cap.try_acquire(a).is_some());
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_cap() {
        let cap = PerAddressCap::new(1);
        let _slot = cap.try_acquire("2001:db8::1".parse().unwrap()).unwrap();
        assert!(cap
            .try_acquire("2001:db8::ffff:1".parse().unwrap())
            .is_none());
        assert!(cap
            .try_acquire("2001:db8:0:1::1".parse().unwrap())
            .is_some());
    }

    #[test]
    fn the_over_cap_answer_has_its_exact_length() {
        let response = over_cap_response();
        let text = std::str::from_utf8(&response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())));
    }
}

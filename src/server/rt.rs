//! hyper's runtime traits over tokio: [`TokioIo`] (a tokio stream as
//! hyper I/O) and [`TokioTimer`] (hyper's timeouts as tokio timers).
//!
//! hyper-util has both; ours are a few dozen lines without `unsafe`, so
//! the server does not pull hyper-util (and its own dependencies) for them.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one read takes from the socket. hyper asks for 8 KiB at first
/// and up to its buffer size (`connection::MAX_BUFFER_BYTES`, 32 KiB) as a
/// body streams in; a larger request is simply cut to this.
const SCRATCH_BYTES: usize = 64 * 1024;

thread_local! {
    /// Each thread's read buffer, shared by all its connections: a read
    /// completes within one `poll_read`, so nothing is left in it between
    /// calls, and one buffer per thread costs no memory per connection.
    static SCRATCH: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

/// A tokio stream as hyper I/O.
///
/// hyper reads into memory it has not initialised, and writing into that
/// takes `unsafe` (`ReadBufCursor::as_mut` and `advance`). Instead, each
/// read goes into this thread's scratch buffer and is copied into hyper's
/// with the safe `put_slice`: one `memcpy` of what the socket returned,
/// a small part of the system call that returned it (README, "Benchmarks").
#[derive(Debug)]
pub struct TokioIo<S> {
    inner: S,
}

impl<S> TokioIo<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        TokioIo { inner }
    }
}

impl<S: AsyncRead + Unpin> hyper::rt::Read for TokioIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut cursor: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &mut self.get_mut().inner;
        SCRATCH.with(|slot| {
            // Taken, not borrowed: should a stream's read ever read another
            // `TokioIo`, that one finds no buffer and makes its own.
            let mut scratch = slot
                .take()
                .unwrap_or_else(|| vec![0; SCRATCH_BYTES].into_boxed_slice());
            // Never more than hyper has room for: `put_slice` panics on that.
            let room = cursor.remaining().min(scratch.len());
            let mut read = ReadBuf::new(&mut scratch[..room]);
            let poll = Pin::new(inner).poll_read(cx, &mut read);
            if let Poll::Ready(Ok(())) = poll {
                cursor.put_slice(read.filled());
            }
            slot.set(Some(scratch));
            poll
        })
    }
}

impl<S: AsyncWrite + Unpin> hyper::rt::Write for TokioIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

/// hyper's timers (the header read timeout) as tokio timers.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioTimer;

/// A tokio sleep. Boxed inside, because tokio's `Sleep` must stay pinned
/// and reaching it through a pinned wrapper takes `unsafe` or a macro
/// crate; hyper makes one per connection and then resets it.
struct TokioSleep(Pin<Box<tokio::time::Sleep>>);

impl Future for TokioSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for TokioSleep {}

impl hyper::rt::Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep(Box::pin(tokio::time::sleep(duration))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep(Box::pin(tokio::time::sleep_until(
            deadline.into(),
        ))))
    }

    /// Moves the deadline of a sleep this timer made, without a new one.
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<TokioSleep>() {
            Some(mut ours) => ours.0.as_mut().reset(new_deadline.into()),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }

    /// tokio's clock, which the sleeps follow (and tests may pause).
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::{Read, Timer};
    use std::future::poll_fn;
    use tokio::io::AsyncWriteExt;

    fn run<F: Future>(work: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    }

    /// Reads once from `io` into a buffer of `room` bytes.
    async fn read_once<S: AsyncRead + Unpin>(io: &mut TokioIo<S>, room: usize) -> Vec<u8> {
        let mut memory = vec![0; room];
        let mut buf = hyper::rt::ReadBuf::new(&mut memory);
        poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, buf.unfilled()))
            .await
            .unwrap();
        buf.filled().to_vec()
    }

    #[test]
    fn reads_no_more_than_hyper_has_room_for_and_loses_nothing() {
        run(async {
            let (mut client, server) = tokio::io::duplex(1 << 20);
            let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            client.write_all(&sent).await.unwrap();
            drop(client);
            let mut io = TokioIo::new(server);
            let mut received = Vec::new();
            // Tiny reads, then reads larger than the scratch buffer.
            for room in [1, 7, 100, SCRATCH_BYTES * 2].into_iter().cycle() {
                let chunk = read_once(&mut io, room).await;
                assert!(chunk.len() <= room);
                if chunk.is_empty() {
                    break;
                }
                received.extend_from_slice(&chunk);
            }
            assert_eq!(received, sent);
        });
    }

    #[test]
    fn a_reset_sleep_fires_at_its_new_deadline_not_its_first() {
        run(async {
            let timer = TokioTimer;
            let start = timer.now();
            let mut sleep = timer.sleep(Duration::from_secs(600));
            timer.reset(&mut sleep, start + Duration::from_millis(20));
            sleep.as_mut().await;
            let slept = timer.now() - start;
            assert!(slept >= Duration::from_millis(20), "{slept:?}");
            assert!(slept < Duration::from_secs(600), "{slept:?}");
        });
    }
}

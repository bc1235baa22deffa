//! Reading request bodies against a deadline: a pause longer than
//! `BODY_READ_TIMEOUT_SECONDS`, or an average below
//! `BODY_MIN_BYTES_PER_SECOND` once that time has passed, ends the
//! request, so a body that never ends cannot hold a connection forever.

use super::config::Limits;
use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, Incoming};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// The next frame of `body`, or `None` at its end.
pub fn next_frame<B: Body + Unpin>(
    body: &mut B,
) -> impl Future<Output = Option<Result<Frame<B::Data>, B::Error>>> + '_ {
    poll_fn(move |cx| Pin::new(&mut *body).poll_frame(cx))
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// It paused too long or came too slowly.
    TooSlow,
    /// It is longer than the limit.
    TooLarge,
    /// The connection broke or the framing (chunked encoding, length) is
    /// malformed.
    Malformed,
}

/// The pace a body is held to.
#[derive(Debug)]
pub struct Pace {
    started: Instant,
    idle: Duration,
    min_bytes_per_second: u64,
    received: u64,
}

impl Pace {
    /// Starts the clock of a body now.
    pub fn new(limits: &Limits) -> Self {
        Pace {
            started: Instant::now(),
            idle: limits.body_read_timeout,
            min_bytes_per_second: limits.body_min_bytes_per_second,
            received: 0,
        }
    }

    /// When the next piece must have arrived: within the idle time, and
    /// early enough that the average since `idle` after the start stays
    /// at the minimum rate.
    fn deadline(&self) -> Instant {
        let pause = Instant::now() + self.idle;
        if self.min_bytes_per_second == 0 {
            return pause;
        }
        let earned =
            Duration::from_secs_f64(self.received as f64 / self.min_bytes_per_second as f64);
        pause.min(self.started + self.idle + earned)
    }

    /// The next frame of `body`, or `None` at its end.
    pub async fn next(&mut self, body: &mut Incoming) -> Result<Option<Frame<Bytes>>, BodyError> {
        match tokio::time::timeout_at(self.deadline(), next_frame(body)).await {
            Err(_) => Err(BodyError::TooSlow),
            Ok(None) => Ok(None),
            Ok(Some(Err(_))) => Err(BodyError::Malformed),
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                }
                Ok(Some(frame))
            }
        }
    }

    /// The whole of `body`, at most `max` bytes.
    pub async fn collect(&mut self, mut body: Incoming, max: usize) -> Result<Bytes, BodyError> {
        let mut out = BytesMut::new();
        while let Some(frame) = self.next(&mut body).await? {
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > max {
                    return Err(BodyError::TooLarge);
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out.freeze())
    }
}

//! The numbers that protect the server, each checked against a range that
//! can work: a value outside it stops the start with one line.

use super::{error, ConfigError, Vars};
use std::ops::RangeInclusive;
use std::time::Duration;

/// Limits that protect the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `POST /api/uploads` per client IP per minute; 0 turns it off.
    pub rate_per_minute: u32,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connections one client address (IPv6: one /64) may hold at once, so
    /// a single host cannot take every slot; more are answered 503.
    pub max_connections_per_ip: usize,
    /// A client must send its whole request head within this time.
    pub header_read_timeout: Duration,
    /// The longest pause inside a request body, and the time after which
    /// the body must have averaged [`Limits::body_min_bytes_per_second`].
    pub body_read_timeout: Duration,
    /// The slowest request body accepted once `body_read_timeout` has passed.
    pub body_min_bytes_per_second: u64,
    /// A response the client does not read for this long is abandoned and
    /// its connection closed, freeing its buffers.
    pub write_timeout: Duration,
    /// On shutdown, in-flight requests get this long to finish.
    pub shutdown_grace: Duration,
    /// Threads serving connections (1: a single-threaded runtime).
    pub worker_threads: usize,
}

impl Limits {
    pub(super) fn load(vars: &Vars) -> Result<Self, ConfigError> {
        let seconds = |name, default| {
            ranged(vars, name, default, 1..=3600, "seconds").map(Duration::from_secs)
        };
        Ok(Limits {
            rate_per_minute: ranged(vars, "RATE_LIMIT_PER_MINUTE", 60, 0..=u32::MAX, "requests")?,
            max_connections: ranged(vars, "MAX_CONNECTIONS", 1024, 1..=65_536, "connections")?,
            max_connections_per_ip: ranged(
                vars,
                "MAX_CONNECTIONS_PER_IP",
                64,
                1..=65_536,
                "connections",
            )?,
            header_read_timeout: seconds("HEADER_READ_TIMEOUT_SECONDS", 10)?,
            body_read_timeout: seconds("BODY_READ_TIMEOUT_SECONDS", 10)?,
            body_min_bytes_per_second: ranged(
                vars,
                "BODY_MIN_BYTES_PER_SECOND",
                1024,
                0..=1 << 30,
                "bytes per second",
            )?,
            write_timeout: seconds("WRITE_TIMEOUT_SECONDS", 30)?,
            shutdown_grace: ranged(vars, "SHUTDOWN_GRACE_SECONDS", 10, 0..=3600, "seconds")
                .map(Duration::from_secs)?,
            worker_threads: ranged(vars, "WORKER_THREADS", 1, 1..=256, "threads")?,
        })
    }
}

/// A whole number in `range`, or `default` when unset.
pub(super) fn ranged<T>(
    vars: &Vars,
    name: &str,
    default: T,
    range: RangeInclusive<T>,
    unit: &str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let out_of_range = || {
        error(format!(
            "{name} must be a whole number of {unit} from {} to {}; fix or unset it",
            range.start(),
            range.end()
        ))
    };
    match vars.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(out_of_range()),
        },
    }
}

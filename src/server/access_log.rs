//! The access log: one line per request, never in the way of the request.
//!
//! A request formats its line into a shared buffer (a short lock, no
//! system call); a thread of its own writes the buffer to stderr in
//! batches, at [`FLUSH_AT`] bytes or [`FLUSH_INTERVAL`] after the first
//! line, whichever comes first, and whatever is left when the server stops.
//! A log reader slower than the traffic (or one that stopped reading)
//! blocks only that thread: past [`CAPACITY`] bytes waiting, lines are
//! dropped and counted, and the count is written as a line of its own as
//! soon as stderr takes writes again.

use super::config::AccessLogFormat;
use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes waiting to be written beyond which new lines are dropped: about
/// 1,500 lines, more than 10 ms of the fastest traffic measured here.
const CAPACITY: usize = 128 * 1024;
/// A batch this large is written without waiting for [`FLUSH_INTERVAL`].
const FLUSH_AT: usize = 16 * 1024;
/// The longest a line waits in the buffer while stderr takes writes.
const FLUSH_INTERVAL: Duration = Duration::from_millis(5);
/// On shutdown, how long to wait for the last lines to be written; a
/// stalled reader must not keep the process from exiting.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// One request, as the log reports it.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The TCP peer.
    pub client: IpAddr,
    /// The request method.
    pub method: &'a str,
    /// The request path, without the query string: presigned URLs are
    /// bearer tokens.
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// The response's `Content-Length`, if it has one.
    pub bytes: Option<&'a str>,
    /// From the request head to the response head.
    pub elapsed: Duration,
}

/// A running access log; dropping it writes what is left.
#[derive(Debug)]
pub struct AccessLog {
    format: AccessLogFormat,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the writer: a first line, a full batch, or closing.
    wake: Condvar,
    /// Tells [`AccessLog::drop`] the writer has written everything.
    finished: Condvar,
    /// Lines dropped since the start, for `GET /metrics`.
    dropped_total: AtomicU64,
}

#[derive(Debug, Default)]
struct Pending {
    lines: Vec<u8>,
    /// Lines refused since the last batch, because `lines` was full.
    dropped: u64,
    closed: bool,
    finished: bool,
    clock: Clock,
}

/// The current second as RFC 3339, formatted once per second.
#[derive(Debug, Default)]
struct Clock {
    second: u64,
    stamp: String,
}

impl Clock {
    fn now(&mut self) -> &str {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now != self.second || self.stamp.is_empty() {
            self.second = now;
            let t = i64::try_from(now)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            self.stamp = super::api::rfc3339(t);
        }
        &self.stamp
    }
}

impl AccessLog {
    /// Starts the writer thread on stderr; `None` when the log is off.
    pub fn to_stderr(format: AccessLogFormat) -> std::io::Result<Option<AccessLog>> {
        if format == AccessLogFormat::Off {
            return Ok(None);
        }
        AccessLog::start(format, stderr()?).map(Some)
    }

    fn start(
        format: AccessLogFormat,
        out: impl Write + Send + 'static,
    ) -> std::io::Result<AccessLog> {
        let shared = Arc::new(Shared::default());
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_batches(&writer, format, out))?;
        Ok(AccessLog { format, shared })
    }

    /// Lines dropped since the start.
    pub fn dropped_total(&self) -> u64 {
        self.shared.dropped_total.load(Ordering::Relaxed)
    }

    /// Adds `entry`'s line to the buffer, or counts it as dropped when the
    /// buffer is full.
    pub fn record(&self, entry: &Entry<'_>) {
        let mut pending = lock(&self.shared.pending);
        let Pending {
            lines,
            dropped,
            clock,
            ..
        } = &mut *pending;
        let before = lines.len();
        match self.format {
            AccessLogFormat::Json => push_json(lines, clock.now(), entry),
            _ => push_plain(lines, clock.now(), entry),
        }
        if lines.len() > CAPACITY {
            lines.truncate(before);
            *dropped += 1;
            self.shared.dropped_total.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let wake = before == 0 || (before < FLUSH_AT && lines.len() >= FLUSH_AT);
        drop(pending);
        if wake {
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        let mut pending = lock(&self.shared.pending);
        pending.closed = true;
        self.shared.wake.notify_one();
        let deadline = Instant::now() + CLOSE_WAIT;
        while !pending.finished {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            pending = self
                .shared
                .finished
                .wait_timeout(pending, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// The writer thread: waits for a batch, swaps it out under the lock,
/// writes it without the lock, until closed and empty.
fn write_batches(shared: &Shared, format: AccessLogFormat, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let mut pending = lock(&shared.pending);
        while pending.lines.is_empty() && pending.dropped == 0 && !pending.closed {
            pending = shared.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
        }
        // Let the batch fill up a little: one write for many lines.
        let deadline = Instant::now() + FLUSH_INTERVAL;
        while pending.lines.len() < FLUSH_AT && !pending.closed {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            pending = shared
                .wake
                .wait_timeout(pending, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        std::mem::swap(&mut pending.lines, &mut batch);
        let dropped = std::mem::take(&mut pending.dropped);
        if dropped > 0 {
            let stamp = pending.clock.now().to_owned();
            push_dropped(&mut batch, format, &stamp, dropped);
        }
        let closing = pending.closed;
        drop(pending);
        // A failed write (stderr closed) loses the batch; there is nowhere
        // left to say so.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if closing {
            let mut pending = lock(&shared.pending);
            if pending.lines.is_empty() && pending.dropped == 0 {
                pending.finished = true;
                shared.finished.notify_all();
                return;
            }
        }
    }
}

fn lock(pending: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stderr without the standard library's lock around it: a writer blocked
/// on a full pipe must not block the server's own `eprintln!`s too.
#[cfg(unix)]
fn stderr() -> std::io::Result<impl Write + Send> {
    use std::os::fd::AsFd;
    Ok(std::fs::File::from(
        std::io::stderr().as_fd().try_clone_to_owned()?,
    ))
}

#[cfg(not(unix))]
fn stderr() -> std::io::Result<impl Write + Send> {
    Ok(std::io::stderr())
}

/// `2026-11-29T05:10:07Z 127.0.0.1 POST /api/uploads 201 1234 0.123ms`
fn push_plain(out: &mut Vec<u8>, stamp: &str, e: &Entry<'_>) {
    out.extend_from_slice(stamp.as_bytes());
    out.push(b' ');
    push_ip(out, e.client);
    out.push(b' ');
    push_escaped(out, e.method);
    out.push(b' ');
    push_escaped(out, e.path);
    out.push(b' ');
    push_decimal(out, e.status.into());
    out.push(b' ');
    push_escaped(out, e.bytes.unwrap_or("-"));
    out.push(b' ');
    push_millis(out, e.elapsed);
    out.extend_from_slice(b"ms\n");
}

/// `{"time":"…","client":"…","method":"…","path":"…","status":201,"bytes":1234,"ms":0.123}`
fn push_json(out: &mut Vec<u8>, stamp: &str, e: &Entry<'_>) {
    out.extend_from_slice(b"{\"time\":\"");
    out.extend_from_slice(stamp.as_bytes());
    out.extend_from_slice(b"\",\"client\":\"");
    push_ip(out, e.client);
    out.extend_from_slice(b"\",\"method\":\"");
    push_escaped_json(out, e.method);
    out.extend_from_slice(b"\",\"path\":\"");
    push_escaped_json(out, e.path);
    out.extend_from_slice(b"\",\"status\":");
    push_decimal(out, e.status.into());
    out.extend_from_slice(b",\"bytes\":");
    match e
        .bytes
        .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
    {
        Some(bytes) => out.extend_from_slice(bytes.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"ms\":");
    push_millis(out, e.elapsed);
    out.extend_from_slice(b"}\n");
}

// The fields are written by hand, not with `write!`: the formatting
// machinery was most of the log's cost per line in profiles.

fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_decimal(out, octet.into());
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// `1234.567`: milliseconds with three decimals.
fn push_millis(out: &mut Vec<u8>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    push_decimal(out, micros / 1000);
    out.push(b'.');
    let fraction = micros % 1000;
    out.extend_from_slice(&[
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn push_dropped(out: &mut Vec<u8>, format: AccessLogFormat, stamp: &str, dropped: u64) {
    const WHY: &str = "access log lines dropped: stderr was read slower than requests came in";
    let _ = match format {
        AccessLogFormat::Json => writeln!(
            out,
            "{{\"time\":\"{stamp}\",\"dropped\":{dropped},\"message\":\"{WHY}\"}}"
        ),
        _ => writeln!(out, "{stamp} presign: {dropped} {WHY}"),
    };
}

/// The most of a method or path a line holds; a longer one ends in `...`.
/// Keeps a line, and so the buffer, small whatever hyper accepts.
const MAX_FIELD: usize = 2048;

/// `text`, cut to [`MAX_FIELD`] bytes, and whether it was cut.
fn clipped(text: &str) -> (&[u8], bool) {
    let bytes = text.as_bytes();
    (
        &bytes[..bytes.len().min(MAX_FIELD)],
        bytes.len() > MAX_FIELD,
    )
}

/// Printable ASCII as it is; every other byte (controls, space, `\`, and
/// each byte of a non-ASCII character such as U+202E, which could reorder
/// what a terminal shows) as `\xHH`. A line cannot be forged or disguised.
fn push_escaped(out: &mut Vec<u8>, text: &str) {
    let (text, cut) = clipped(text);
    for &b in text {
        if b.is_ascii_graphic() && b != b'\\' {
            out.push(b);
        } else {
            push_hex_escape(out, b);
        }
    }
    if cut {
        out.extend_from_slice(b"...");
    }
}

/// [`push_escaped`]'s text inside a JSON string: its `\` and `"` escaped
/// again, so the parsed value is exactly the plain format's text.
fn push_escaped_json(out: &mut Vec<u8>, text: &str) {
    let (text, cut) = clipped(text);
    for &b in text {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\x5C"),
            b if b.is_ascii_graphic() => out.push(b),
            b => {
                out.push(b'\\');
                push_hex_escape(out, b);
            }
        }
    }
    if cut {
        out.extend_from_slice(b"...");
    }
}

fn push_hex_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 15)],
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> Entry<'_> {
        Entry {
            client: "192.0.2.7".parse().unwrap(),
            method: "POST",
            path,
            status: 201,
            bytes: Some("1234"),
            elapsed: Duration::from_micros(1_234_567),
        }
    }

    fn plain(e: &Entry<'_>) -> String {
        let mut out = Vec::new();
        push_plain(&mut out, "2026-11-29T05:10:07Z", e);
        String::from_utf8(out).unwrap()
    }

    fn json(e: &Entry<'_>) -> serde_json::Value {
        let mut out = Vec::new();
        push_json(&mut out, "2026-11-29T05:10:07Z", e);
        assert_eq!(out.last(), Some(&b'\n'));
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn plain_lines_are_space_separated_fields() {
        assert_eq!(
            plain(&entry("/api/uploads")),
            "2026-11-29T05:10:07Z 192.0.2.7 POST /api/uploads 201 1234 1234.567ms\n"
        );
        let no_length = Entry {
            bytes: None,
            elapsed: Duration::from_micros(42),
            ..entry("/")
        };
        assert!(plain(&no_length).ends_with(" / 201 - 0.042ms\n"));
    }

    #[test]
    fn numbers_and_addresses_are_written_in_full() {
        let e = Entry {
            client: "2001:db8::7".parse().unwrap(),
            status: 404,
            bytes: Some("0"),
            elapsed: Duration::from_micros(10_000_005),
            ..entry("/")
        };
        assert!(plain(&e).ends_with(" 2001:db8::7 POST / 404 0 10000.005ms\n"));
        let e = Entry {
            client: "10.0.0.255".parse().unwrap(),
            elapsed: Duration::from_nanos(999),
            ..e
        };
        assert!(plain(&e).ends_with(" 10.0.0.255 POST / 404 0 0.000ms\n"));
        assert_eq!(json(&e)["client"], "10.0.0.255");
        assert_eq!(json(&e)["ms"], 0.0);
    }

    #[test]
    fn controls_spaces_backslashes_and_non_ascii_are_escaped() {
        let hostile = "/a b\n2026 forged\\\u{202e}gpj.exe\u{7f}";
        let line = plain(&entry(hostile));
        assert_eq!(
            line,
            "2026-11-29T05:10:07Z 192.0.2.7 POST /a\\x20b\\x0A2026\\x20forged\\x5C\\xE2\\x80\\xAEgpj.exe\\x7F 201 1234 1234.567ms\n"
        );
        assert!(line.is_ascii());
        assert_eq!(line.lines().count(), 1);
        assert_eq!(line.split(' ').count(), 7);
    }

    #[test]
    fn long_paths_are_cut() {
        let long = format!("/{}", "\u{202e}".repeat(1000));
        let line = plain(&entry(&long));
        assert!(line.len() < 4 * MAX_FIELD + 100, "{}", line.len());
        assert!(line.contains("... 201 1234 "), "{line}");
        let path = json(&entry(&long))["path"].as_str().unwrap().to_owned();
        assert!(path.ends_with("..."), "{path}");
        assert_eq!(
            path.len(),
            1 + 4 * (MAX_FIELD - 1) + 3,
            "/, escaped bytes, ..."
        );
    }

    #[test]
    fn json_lines_parse_and_carry_the_plain_text_of_the_path() {
        let value = json(&entry("/q\"\\\u{202e}\t"));
        assert_eq!(value["time"], "2026-11-29T05:10:07Z");
        assert_eq!(value["client"], "192.0.2.7");
        assert_eq!(value["method"], "POST");
        assert_eq!(value["path"], "/q\"\\x5C\\xE2\\x80\\xAE\\x09");
        assert_eq!(value["status"], 201);
        assert_eq!(value["bytes"], 1234);
        assert_eq!(value["ms"], 1234.567);
        let unknown = json(&Entry {
            bytes: None,
            ..entry("/")
        });
        assert!(unknown["bytes"].is_null());
    }

    #[test]
    fn a_full_buffer_drops_lines_and_the_writer_reports_how_many() {
        /// An output that takes nothing until it is opened.
        #[derive(Clone, Default)]
        struct Gate(Arc<GateState>);
        #[derive(Default)]
        struct GateState {
            /// Whether it is open, and what was written.
            state: Mutex<(bool, Vec<u8>)>,
            opened: Condvar,
        }
        impl Write for Gate {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let mut state = self.0.state.lock().unwrap();
                while !state.0 {
                    state = self.0.opened.wait(state).unwrap();
                }
                state.1.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let gate = Gate::default();
        let log = AccessLog::start(AccessLogFormat::Plain, gate.clone()).unwrap();
        let line_len = plain(&entry("/healthz")).len();
        let sent = 3 * CAPACITY / line_len;
        for _ in 0..sent {
            log.record(&entry("/healthz"));
        }
        gate.0.state.lock().unwrap().0 = true;
        gate.0.opened.notify_all();
        drop(log);
        let written = String::from_utf8(gate.0.state.lock().unwrap().1.clone()).unwrap();
        let logged = written.lines().filter(|l| l.contains(" /healthz ")).count();
        // One report per batch that followed drops: when the writer is
        // slow to start, the first batch can already carry one.
        let reports: Vec<usize> = written
            .lines()
            .filter(|l| l.contains("lines dropped"))
            .map(|l| l.split(' ').nth(2).and_then(|n| n.parse().ok()).unwrap())
            .collect();
        assert!(!reports.is_empty(), "a line reporting the dropped lines");
        assert!(reports.len() <= 2, "{reports:?}");
        let dropped: usize = reports.iter().sum();
        assert!(dropped > 0, "{dropped}");
        // At most one batch in the writer's hands and a full buffer.
        assert!(logged * line_len <= 2 * (CAPACITY + line_len));
        assert_eq!(logged + dropped, sent);
    }
}

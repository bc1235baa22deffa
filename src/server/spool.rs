//! A request body streamed into a temporary file of the local bucket:
//! what a `PUT` of an object and an UploadPart share.
//!
//! The async side reads frames (held to [`Pace`]) and hands them, without
//! copying, in batches of about [`BATCH_BYTES`] to a blocking thread that
//! writes each batch with one `writev`. Network reads and disk writes
//! overlap, one hand-over (a wake-up of each side) serves a batch rather than every
//! 32 KiB frame, and memory stays bounded: at most [`QUEUED_BATCHES`]
//! batches wait for the disk, plus the one being filled.

use super::body::{BodyError, Pace};
use super::http::{empty, Body};
use super::keys::KeyGenerator;
use super::keys::TMP_DIR;
use super::local_bucket::TempFile;
use super::s3_error::S3Error;
use super::sniff::PrefixCheck;
use super::state::State;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, ETAG};
use hyper::{Request, Response};
use std::io::{IoSlice, Write};
use std::path::Path;

/// Bytes gathered before they are handed to the writer.
const BATCH_BYTES: usize = 512 * 1024;
/// Batches waiting for the disk, at most.
const QUEUED_BATCHES: usize = 2;

/// A new ETag for a stored object or part: 128 random bits in hex, as
/// long as S3's MD5 ETags. It names this version of the object, not its
/// bytes: hashing every byte cost a third of a PUT's CPU time
/// (benches/local_upload.sh), and an MD5 (what S3 clients could compare
/// with) is not at hand anyway.
pub fn new_etag(keys: &KeyGenerator) -> String {
    let mut etag = keys.uuid();
    etag.retain(|c| c != '-');
    etag
}

/// The body of a `PUT` (an object or a part) received whole into a new
/// temporary file of the bucket at `dir`, after `header`, with its length:
/// refused at once when its `Content-Length` is over `max`, else as
/// [`spool`] says.
pub async fn receive(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
    max: u64,
    header: Bytes,
    content: Option<&mut PrefixCheck>,
) -> Result<(TempFile, u64), S3Error> {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(S3Error::EntityTooLarge);
    }
    tokio::fs::create_dir_all(dir.join(TMP_DIR)).await?;
    let tmp = TempFile::new(dir.join(TMP_DIR).join(state.keys.uuid()));
    let mut body = request.into_body();
    let mut pace = Pace::new(&state.config.limits);
    let written = spool(&mut body, &mut pace, &tmp, max, header, content).await?;
    Ok((tmp, written))
}

/// The empty `200` of a stored object or part, with its ETag.
pub fn stored_response(etag: &str) -> Response<Body> {
    let mut response = Response::new(empty());
    let headers = response.headers_mut();
    headers.insert(
        ETAG,
        HeaderValue::from_str(&format!("\"{etag}\"")).unwrap_or(HeaderValue::from_static("\"\"")),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
    response
}

enum Message {
    Data(Vec<Bytes>),
    /// The body ended whole: sync and report.
    End,
}

/// Writes `header` then `body` into `tmp` (created here), syncs it and
/// returns the body's length. `max` and `content` look at the body only
/// (the header is ours, not the client's): more than `max` bytes stops it
/// with `EntityTooLarge`; a cut or broken body with `IncompleteBody`, a
/// slow one with `RequestTimeout`; first bytes that `content` finds to be
/// another type than signed with `ContentMismatch`.
pub async fn spool(
    body: &mut Incoming,
    pace: &mut Pace,
    tmp: &TempFile,
    max: u64,
    header: Bytes,
    mut content: Option<&mut PrefixCheck>,
) -> Result<u64, S3Error> {
    // Created here, not in the writer: once this future is dropped (the
    // client went away) and the guard has removed the path, nothing may
    // create it again.
    let file = std::fs::File::create(&tmp.path)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Message>(QUEUED_BATCHES);
    let writer = tokio::task::spawn_blocking(move || write(file, rx));
    let read = async {
        let mut received = 0u64;
        let mut batched = header.len();
        let mut batch = vec![header];
        loop {
            let frame = match pace.next(body).await {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(BodyError::Malformed) => return Err(S3Error::IncompleteBody),
                Err(BodyError::TooSlow | BodyError::TooLarge) => {
                    return Err(S3Error::RequestTimeout)
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            received += data.len() as u64;
            if received > max {
                return Err(S3Error::EntityTooLarge);
            }
            if let Some(check) = content.as_mut() {
                check.feed(&data).map_err(S3Error::ContentMismatch)?;
            }
            batched += data.len();
            batch.push(data);
            if batched >= BATCH_BYTES {
                batched = 0;
                if tx
                    .send(Message::Data(std::mem::take(&mut batch)))
                    .await
                    .is_err()
                {
                    // The writer failed; its error is the answer.
                    return Ok(None);
                }
            }
        }
        if let Some(check) = content.as_mut() {
            check.finish().map_err(S3Error::ContentMismatch)?;
        }
        let sent =
            tx.send(Message::Data(batch)).await.is_ok() && tx.send(Message::End).await.is_ok();
        Ok(sent.then_some(received))
    }
    .await;
    drop(tx);
    let written = writer
        .await
        .map_err(|e| S3Error::Internal(std::io::Error::other(e)))?;
    let finished = read?;
    match (written?, finished) {
        (true, Some(received)) => Ok(received),
        _ => Err(S3Error::Internal(std::io::Error::other(
            "the disk writer stopped early",
        ))),
    }
}

/// The writer: writes what `rx` brings, and syncs at the end; `false` if
/// the reader gave up first (no sync for a file about to be removed).
fn write(
    mut file: std::fs::File,
    mut rx: tokio::sync::mpsc::Receiver<Message>,
) -> std::io::Result<bool> {
    while let Some(message) = rx.blocking_recv() {
        match message {
            Message::Data(batch) => write_batch(&mut file, &batch)?,
            Message::End => {
                file.sync_all()?;
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Writes every piece of `batch`, in order, with as few `writev`s as the
/// kernel allows.
fn write_batch(file: &mut impl Write, batch: &[Bytes]) -> std::io::Result<()> {
    let (mut piece, mut offset) = (0, 0);
    loop {
        // Past the pieces written whole (empty ones included).
        while piece < batch.len() && offset == batch[piece].len() {
            piece += 1;
            offset = 0;
        }
        if piece == batch.len() {
            return Ok(());
        }
        let slices: Vec<IoSlice<'_>> = std::iter::once(&batch[piece][offset..])
            .chain(batch[piece + 1..].iter().map(|b| &b[..]))
            .map(IoSlice::new)
            .collect();
        let mut written = match file.write_vectored(&slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while written > 0 {
            let step = written.min(batch[piece].len() - offset);
            written -= step;
            offset += step;
            if offset == batch[piece].len() && written > 0 {
                piece += 1;
                offset = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most 7 bytes per call, from one or more slices.
    struct Stingy(Vec<u8>);

    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
            let mut budget = 7;
            for buf in bufs {
                let n = buf.len().min(budget);
                self.0.extend_from_slice(&buf[..n]);
                budget -= n;
            }
            Ok(7 - budget)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_batch_is_written_whole_and_in_order_through_partial_writes() {
        let batch: Vec<Bytes> = ["abc", "", "defghijklm", "n", "opqrstuvwxyz0123456789"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        let mut out = Stingy(Vec::new());
        write_batch(&mut out, &batch).unwrap();
        assert_eq!(out.0, b"abcdefghijklmnopqrstuvwxyz0123456789");
        write_batch(&mut out, &[]).unwrap();
        write_batch(&mut out, &[Bytes::new(), Bytes::new()]).unwrap();
        assert_eq!(out.0.len(), 36);
    }
}

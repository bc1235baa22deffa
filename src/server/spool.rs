//! A request body streamed into a temporary file of the local bucket,
//! hashed on the way: what a `PUT` of an object and an UploadPart share.
//!
//! The async side reads frames (held to [`Pace`]) and hands them, without
//! copying, to a blocking thread that hashes and writes them. Network
//! reads and disk writes overlap, hashing runs off the connection's
//! thread, and memory stays bounded by the channel: at most
//! [`QUEUED_FRAMES`] frames wait for the disk.

use super::body::{BodyError, Pace};
use super::local_bucket::TempFile;
use super::s3_error::S3Error;
use super::sniff::PrefixCheck;
use bytes::Bytes;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};
use std::io::Write;

/// Frames read ahead of the disk. hyper's frames are at most its read
/// buffer (about 400 KiB), so a slow disk holds a few MiB per upload.
const QUEUED_FRAMES: usize = 8;

/// What was written.
#[derive(Debug)]
pub struct Spooled {
    /// The SHA-256 of those bytes.
    pub sha256: [u8; 32],
}

impl Spooled {
    /// The ETag the local bucket gives these bytes: the first half of
    /// their SHA-256, in hex (S3 uses an MD5, which is as long).
    pub fn etag(&self) -> String {
        hex::encode(&self.sha256[..16])
    }
}

enum Message {
    Data(Bytes),
    /// The body ended whole: sync and report.
    End,
}

/// Writes `body` into `tmp` (created here) and syncs it. More than `max`
/// bytes stops it with `EntityTooLarge`; a cut or broken body with
/// `IncompleteBody`, a slow one with `RequestTimeout`; first bytes that
/// `content` finds to be another type than signed with `ContentMismatch`.
pub async fn spool(
    body: &mut Incoming,
    pace: &mut Pace,
    tmp: &TempFile,
    max: u64,
    mut content: Option<&mut PrefixCheck>,
) -> Result<Spooled, S3Error> {
    // Created here, not in the writer: once this future is dropped (the
    // client went away) and the guard has removed the path, nothing may
    // create it again.
    let file = std::fs::File::create(&tmp.path)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(QUEUED_FRAMES);
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let mut hash = Sha256::new();
        while let Some(message) = rx.blocking_recv() {
            match message {
                Message::Data(data) => {
                    hash.update(&data);
                    file.write_all(&data)?;
                }
                Message::End => {
                    file.sync_all()?;
                    return Ok(Some(Spooled {
                        sha256: hash.finalize().into(),
                    }));
                }
            }
        }
        // The reader gave up: no sync for a file about to be removed.
        Ok::<_, std::io::Error>(None)
    });
    let read = async {
        let mut received = 0u64;
        loop {
            let frame = match pace.next(body).await {
                Ok(Some(frame)) => frame,
                Ok(None) => {
                    if let Some(check) = content.as_mut() {
                        check.finish().map_err(S3Error::ContentMismatch)?;
                    }
                    return Ok(());
                }
                Err(BodyError::Malformed) => return Err(S3Error::IncompleteBody),
                Err(BodyError::TooSlow | BodyError::TooLarge) => {
                    return Err(S3Error::RequestTimeout)
                }
            };
            if let Ok(data) = frame.into_data() {
                received += data.len() as u64;
                if received > max {
                    return Err(S3Error::EntityTooLarge);
                }
                if let Some(check) = content.as_mut() {
                    check.feed(&data).map_err(S3Error::ContentMismatch)?;
                }
                if tx.send(Message::Data(data)).await.is_err() {
                    // The writer failed; its error is the answer.
                    return Ok(());
                }
            }
        }
    }
    .await;
    let finished = match read {
        Ok(()) => tx.send(Message::End).await.is_ok(),
        Err(_) => false,
    };
    drop(tx);
    let written = writer
        .await
        .map_err(|e| S3Error::Internal(std::io::Error::other(e)))?;
    read?;
    match (written?, finished) {
        (Some(spooled), true) => Ok(spooled),
        _ => Err(S3Error::Internal(std::io::Error::other(
            "the disk writer stopped early",
        ))),
    }
}

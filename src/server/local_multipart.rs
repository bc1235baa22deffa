//! The local bucket's multipart upload, the five S3 calls on
//! `/s3/local/<key>`, each a presigned request checked by the same
//! verifier as a `PUT`:
//!
//! | request | call |
//! | --- | --- |
//! | `POST ?uploads` | CreateMultipartUpload |
//! | `PUT ?partNumber=N&uploadId=ID` | UploadPart |
//! | `GET ?uploadId=ID` | ListParts |
//! | `POST ?uploadId=ID` | CompleteMultipartUpload |
//! | `DELETE ?uploadId=ID` | AbortMultipartUpload |
//!
//! An upload is a directory `<bucket>/.presign-tmp/multipart/<ID>/` (no
//! key can name it; the id is the key's hash) holding `upload` (its key,
//! creation time and signed `Content-Type`) and one
//! file per part, `<N>`, its ETag inside (`multipart_part`). A part is
//! streamed to a temporary file and renamed into place whole, so a cut
//! part leaves nothing and a part sent again replaces the old one in the
//! same step: storing a part costs the same whatever the number of parts,
//! and takes no lock. Complete checks the parts listed, then copies them
//! into one temporary file (in the kernel, without passing the bytes
//! through this process), one part open at a time, and places it like a
//! `PUT`, atomically, `If-None-Match: *` included; then the directory
//! goes. Abort removes it. A directory goes by a rename first
//! (`removed-<uuid>`, no upload id): a part arriving after that finds no
//! upload, so none lands in a directory being deleted. Uploads nobody
//! completes or aborts are removed once no URL for them can work any
//! more, renamed away first too; a removal cut short (a crash, a failed
//! delete) is finished by the next sweep, at start or within the hour
//! ([`spawn_sweeper`]).
//!
//! Parts that versions before this layout left (`<N>.<ETag>`, found on a
//! restart) are not parts to it: ListParts leaves them out, complete
//! answers `InvalidPart` for them, and abort or the sweep removes them
//! with their upload.
//!
//! Part reads, listings, copies, renames and removals run on blocking
//! threads (`tokio::fs`, `spawn_blocking`). Creating complete's temporary
//! file stays on the runtime's, so a request dropped before the copy
//! starts leaves no file behind, and so does the key-conflict check (a
//! `stat`).
//!
//! S3's limits hold: part numbers 1 to 10,000, parts up to 5 GiB, every
//! part but the last at least 5 MiB (`EntityTooSmall` at complete), the
//! parts listed in order (`InvalidPartOrder`) with their ETags
//! (`InvalidPart`), an unknown or finished upload is `NoSuchUpload`.

use super::body::Pace;
use super::config::multipart::{MAX_PARTS, MAX_PART_BYTES, MIN_PART_BYTES};
use super::http::{empty, respond, Body};
use super::keys::{KeyGenerator, TMP_DIR};
use super::local_bucket::{is_key_conflict, object_key, object_path, place, verify, TempFile};
use super::multipart_part::{self as part, StoredPart};
use super::multipart_xml::{self, ListedPart, PartsPage};
use super::s3_error::S3Error;
use super::sniff::{self, PREFIX_LEN};
use super::spool::{new_etag, receive, stored_response};
use super::state::{State, LOCAL_BUCKET};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, IF_NONE_MATCH};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where uploads live, under [`TMP_DIR`].
const UPLOADS_DIR: &str = "multipart";
/// How the directory of an upload being removed is renamed, beside the
/// uploads: a name no upload id has, so no request can reach it.
const REMOVED_PREFIX: &str = "removed-";
/// The file of an upload that names its key.
const UPLOAD_FILE: &str = "upload";
/// The largest `<CompleteMultipartUpload>` read: 10,000 parts with
/// checksums fit.
const MAX_COMPLETE_BYTES: usize = 2 * 1024 * 1024;
/// Parts per ListParts page, at most (S3's limit).
const MAX_LIST_PARTS: usize = 1000;
/// How often abandoned uploads are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Whether a query string is one of the multipart calls (it names
/// `uploads` or `uploadId`).
pub fn is_multipart(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .map(|p| p.split_once('=').map_or(p, |(n, _)| n))
            .any(|n| n == "uploads" || n == "uploadId")
    })
}

/// The multipart parameters of a query, decoded.
#[derive(Debug, Default)]
struct Params {
    uploads: bool,
    upload_id: Option<String>,
    part_number: Option<String>,
    max_parts: Option<String>,
    marker: Option<String>,
}

fn params(query: &str) -> Params {
    let mut out = Params::default();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = || {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        };
        match name {
            "uploads" => out.uploads = true,
            "uploadId" => out.upload_id = Some(value()),
            "partNumber" => out.part_number = Some(value()),
            "max-parts" => out.max_parts = Some(value()),
            "part-number-marker" => out.marker = Some(value()),
            _ => {}
        }
    }
    out
}

/// Answers one multipart call on the object at `resource`.
pub async fn handle(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
    resource: &str,
) -> Result<Response<Body>, S3Error> {
    verify(&request, state).map_err(S3Error::Verify)?;
    let key = object_key(resource)?;
    let path = object_path(dir, &key).ok_or(S3Error::KeyRefused)?;
    let params = params(request.uri().query().unwrap_or(""));
    let method = request.method().clone();
    if params.uploads {
        return match method {
            Method::POST => {
                let content_type = request
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                create(dir, &key, content_type).await
            }
            _ => Err(S3Error::MethodNotAllowed),
        };
    }
    let id = params.upload_id.as_deref().unwrap_or("");
    let upload = Upload::open(dir, id, &key).await?;
    match method {
        Method::PUT => {
            let number = params
                .part_number
                .as_deref()
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| (1..=MAX_PARTS).contains(n))
                .ok_or(S3Error::InvalidArgument(
                    "Part number must be an integer between 1 and 10000, inclusive.",
                ))?;
            upload_part(request, state, dir, &upload, number).await
        }
        Method::GET => list_parts(&upload, &key, &params).await,
        Method::POST => complete(request, state, dir, &path, &upload, &key, resource).await,
        Method::DELETE => {
            upload.remove(&state.keys).await?;
            let mut response = Response::new(empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            Ok(response)
        }
        _ => Err(S3Error::MethodNotAllowed),
    }
}

/// The one upload id of `key`, shaped like the ids S3 servers give: the
/// key's SHA-256, so creating the same key's upload again finds it.
fn upload_id(key: &str) -> String {
    let hash = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hash[..8],
        &hash[8..12],
        &hash[12..16],
        &hash[16..20],
        &hash[20..]
    )
}

/// An upload in progress: its directory, checked to be for the key.
struct Upload {
    dir: PathBuf,
    /// The `Content-Type` signed at create ("" when none was sent).
    content_type: String,
}

impl Upload {
    /// The upload `id` of `key`, or `NoSuchUpload`: unknown, finished,
    /// aborted, for another key, or not an id this bucket makes.
    async fn open(bucket: &Path, id: &str, key: &str) -> Result<Upload, S3Error> {
        let well_formed = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !well_formed {
            return Err(S3Error::NoSuchUpload);
        }
        let dir = bucket.join(TMP_DIR).join(UPLOADS_DIR).join(id);
        let record = tokio::fs::read_to_string(dir.join(UPLOAD_FILE))
            .await
            .unwrap_or_default();
        let mut lines = record.split('\n');
        if lines.next() != Some(key) {
            return Err(S3Error::NoSuchUpload);
        }
        let content_type = lines.nth(1).unwrap_or("").to_owned();
        Ok(Upload { dir, content_type })
    }

    /// Ends the upload: its directory renamed out of reach in one step,
    /// then deleted. Deleting it under its own name could race a part
    /// renamed into it meanwhile and fail, leaving the upload half there.
    async fn remove(&self, keys: &KeyGenerator) -> Result<(), S3Error> {
        let removed = self
            .dir
            .with_file_name(format!("{REMOVED_PREFIX}{}", keys.uuid()));
        match tokio::fs::rename(&self.dir, &removed).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(S3Error::NoSuchUpload)
            }
            renamed => renamed?,
        }
        // The upload is gone for every request now; should the deletion
        // fail, the sweep deletes what is left.
        let _ = tokio::fs::remove_dir_all(&removed).await;
        Ok(())
    }
}

async fn create(dir: &Path, key: &str, content_type: &str) -> Result<Response<Body>, S3Error> {
    let id = upload_id(key);
    let upload = dir.join(TMP_DIR).join(UPLOADS_DIR).join(&id);
    tokio::fs::create_dir_all(&upload).await?;
    // A create sent again (the same presigned URL) answers the upload it
    // made: one API answer can not open many uploads of the declared size.
    if Upload::open(dir, &id, key).await.is_err() {
        let created = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let record = format!("{key}\n{created}\n{content_type}\n");
        tokio::fs::write(upload.join(UPLOAD_FILE), record).await?;
    }
    Ok(respond(
        StatusCode::OK,
        "application/xml",
        multipart_xml::initiated(LOCAL_BUCKET, key, &id),
    ))
}

async fn upload_part(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
    upload: &Upload,
    number: u64,
) -> Result<Response<Body>, S3Error> {
    let max = MAX_PART_BYTES.min(state.config.policy.max_bytes);
    let etag = new_etag(&state.keys);
    let (tmp, _) = receive(request, state, dir, max, part::header(&etag), None).await?;
    // Over the part it replaces, if any, in one step.
    match tokio::fs::rename(&tmp.path, part::path(&upload.dir, number)).await {
        Ok(()) => Ok(stored_response(&etag)),
        // Aborted or completed meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(S3Error::NoSuchUpload),
        Err(e) => Err(e.into()),
    }
}

/// Runs blocking file work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, S3Error> + Send + 'static,
) -> Result<T, S3Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| S3Error::Internal(std::io::Error::other(e)))?
}

async fn list_parts(
    upload: &Upload,
    key: &str,
    params: &Params,
) -> Result<Response<Body>, S3Error> {
    let number = |text: &Option<String>, default: u64| match text.as_deref() {
        None | Some("") => Ok(default),
        Some(n) => n.parse::<u64>().map_err(|_| {
            S3Error::InvalidArgument("max-parts and part-number-marker must be whole numbers.")
        }),
    };
    let max_parts =
        number(&params.max_parts, MAX_LIST_PARTS as u64)?.min(MAX_LIST_PARTS as u64) as usize;
    let marker = number(&params.marker, 0)?;
    let dir = upload.dir.clone();
    let (parts, truncated) = blocking(move || page(&dir, marker, max_parts)).await?;
    let id = upload
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let page = PartsPage {
        bucket: LOCAL_BUCKET,
        key,
        upload_id: &id,
        marker,
        max_parts,
        truncated,
        parts: &parts,
    };
    Ok(respond(
        StatusCode::OK,
        "application/xml",
        multipart_xml::listed(&page),
    ))
}

/// Up to `max` parts of the upload directory `upload` after part
/// `marker`, and whether more follow. Only the parts listed are opened.
fn page(upload: &Path, marker: u64, max: usize) -> Result<(Vec<ListedPart>, bool), S3Error> {
    let numbers = match part::numbers(upload) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(S3Error::NoSuchUpload),
        listed => listed?,
    };
    let mut parts = Vec::with_capacity(max.min(numbers.len()));
    for number in numbers.into_iter().filter(|n| *n > marker) {
        if parts.len() == max {
            return Ok((parts, true));
        }
        // `None`: gone since the directory was read (aborted, completed).
        if let Some(stored) = StoredPart::open(upload, number)? {
            parts.push(ListedPart {
                number,
                etag: stored.etag,
                size: stored.size,
                last_modified: last_modified(stored.modified),
            });
        }
    }
    Ok((parts, false))
}

/// `2026-12-02T21:00:00.000Z`, as S3 writes times in XML.
fn last_modified(at: SystemTime) -> String {
    let mut text = super::api::rfc3339(time::OffsetDateTime::from(at));
    text.insert_str(text.len() - 1, ".000");
    text
}

async fn complete(
    request: Request<Incoming>,
    state: &State,
    dir: &Path,
    path: &Path,
    upload: &Upload,
    key: &str,
    resource: &str,
) -> Result<Response<Body>, S3Error> {
    let exclusive = request
        .headers()
        .get(IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*");
    let body = Pace::new(&state.config.limits)
        .collect(request.into_body(), MAX_COMPLETE_BYTES)
        .await
        .map_err(|e| match e {
            super::body::BodyError::TooLarge => S3Error::MalformedXml,
            super::body::BodyError::TooSlow => S3Error::RequestTimeout,
            super::body::BodyError::Malformed => S3Error::IncompleteBody,
        })?;
    let listed = std::str::from_utf8(&body)
        .ok()
        .and_then(multipart_xml::parse_complete)
        .filter(|parts| !parts.is_empty() && parts.len() as u64 <= MAX_PARTS)
        .ok_or(S3Error::MalformedXml)?;
    if listed.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::InvalidPartOrder);
    }
    let mut digest = Sha256::new();
    for (_, etag) in &listed {
        digest.update(hex::decode(etag).unwrap_or_default());
    }
    let etag = format!("{}-{}", hex::encode(&digest.finalize()[..16]), listed.len());
    // One part open at a time, to check and again to copy: 10,000 parts
    // held open at once would pass the usual limit of 1,024 open files.
    let upload_dir = upload.dir.clone();
    let (listed, total, head) = blocking(move || {
        let (total, head) = check_listed(&upload_dir, &listed)?;
        Ok((listed, total, head))
    })
    .await?;
    if total > state.config.policy.max_bytes {
        return Err(S3Error::EntityTooLarge);
    }
    // Checked against the type signed at create, as a PUT's are.
    sniff::check(&upload.content_type, &head).map_err(S3Error::ContentMismatch)?;
    // Checked before the copy, and again when the object is placed.
    if is_key_conflict(dir, path) {
        return Err(S3Error::KeyConflict);
    }
    if exclusive && tokio::fs::try_exists(path).await.unwrap_or(false) {
        return Err(S3Error::PreconditionFailed);
    }
    // The target made here, before the copy goes to a blocking thread:
    // should this request be dropped, `tmp` removes a target that exists
    // already rather than one the copy would make after it.
    let tmp = TempFile::new(dir.join(TMP_DIR).join(state.keys.uuid()));
    let out = std::fs::File::create(&tmp.path)?;
    let upload_dir = upload.dir.clone();
    blocking(move || concatenate(&upload_dir, &listed, out)).await?;
    place(dir, &tmp, path, exclusive).await?;
    state.metrics.stored(total);
    // The object is in place: the parts are no longer needed, whatever
    // happens to their removal.
    let _ = upload.remove(&state.keys).await;
    Ok(respond(
        StatusCode::OK,
        "application/xml",
        multipart_xml::completed(resource, LOCAL_BUCKET, key, &etag),
    ))
}

/// Part `number` of the upload directory `upload`, open, if it is still
/// the one stored with `etag`: else `InvalidPart` (never stored, or
/// replaced since), or `NoSuchUpload` if the upload has gone meanwhile.
fn open_listed(upload: &Path, number: u64, etag: &str) -> Result<StoredPart, S3Error> {
    match StoredPart::open(upload, number)? {
        Some(stored) if stored.etag == etag => Ok(stored),
        None if !upload.exists() => Err(S3Error::NoSuchUpload),
        _ => Err(S3Error::InvalidPart),
    }
}

/// Checks the parts `listed` (number, ETag) names in the upload directory
/// `upload` as S3 checks them, one open at a time: each stored with that
/// ETag (else `InvalidPart`), each but the last at least
/// [`MIN_PART_BYTES`] long (else `EntityTooSmall`). Returns their total
/// size and the object's first bytes (the first part's).
fn check_listed(upload: &Path, listed: &[(u64, String)]) -> Result<(u64, Vec<u8>), S3Error> {
    let (mut total, mut head) = (0, Vec::new());
    for (i, (number, etag)) in listed.iter().enumerate() {
        let mut stored = open_listed(upload, *number, etag)?;
        if i + 1 < listed.len() && stored.size < MIN_PART_BYTES {
            return Err(S3Error::EntityTooSmall);
        }
        if i == 0 {
            head = stored.first_bytes(PREFIX_LEN)?;
        }
        total += stored.size;
    }
    Ok((total, head))
}

/// Copies the parts `listed` of `upload` one after the other into `out`,
/// and syncs it. Each is opened again, one at a time, and must still be
/// the one [`check_listed`] checked: a part replaced since is
/// `InvalidPart`, as it would have been a moment earlier. `std::io::copy`
/// between files copies in the kernel (`copy_file_range`), so memory
/// stays flat whatever the size.
fn concatenate(
    upload: &Path,
    listed: &[(u64, String)],
    mut out: std::fs::File,
) -> Result<(), S3Error> {
    for (number, etag) in listed {
        let mut part = open_listed(upload, *number, etag)?;
        std::io::copy(&mut part.file, &mut out)?;
    }
    Ok(out.sync_all()?)
}

/// Removes uploads that no URL can reach any more: created over `max_age`
/// ago (a ticket's life plus a URL's), and whatever a removal left
/// unfinished (renamed [`REMOVED_PREFIX`]…). Runs now, then every hour,
/// for as long as the server's runtime.
pub fn spawn_sweeper(dir: PathBuf, max_age: Duration) {
    tokio::spawn(async move {
        loop {
            let dir = dir.clone();
            let _ =
                tokio::task::spawn_blocking(move || sweep(&dir, max_age, SystemTime::now())).await;
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    });
}

/// One sweep: returns how many uploads it removed.
pub fn sweep(dir: &Path, max_age: Duration, now: SystemTime) -> usize {
    let uploads = dir.join(TMP_DIR).join(UPLOADS_DIR);
    let Ok(entries) = std::fs::read_dir(&uploads) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let removing = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(REMOVED_PREFIX));
        let created = std::fs::read_to_string(entry.path().join(UPLOAD_FILE))
            .ok()
            .and_then(|record| record.split('\n').nth(1)?.parse::<u64>().ok())
            .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            // No record (a create cut short): the directory's own time.
            .or_else(|| entry.metadata().and_then(|m| m.modified()).ok());
        let old = created.is_some_and(|at| now.duration_since(at).unwrap_or_default() > max_age);
        let path = entry.path();
        let doomed = if removing {
            path
        } else if old {
            // Renamed away first, as abort does: a part whose URL was
            // checked just before it expired must not land in (and so
            // keep) a directory half deleted, its record already gone.
            // A name taken by an earlier leftover waits for the next sweep.
            let away = path.with_file_name(format!(
                "{REMOVED_PREFIX}{}",
                entry.file_name().to_string_lossy()
            ));
            match std::fs::rename(&path, &away) {
                Ok(()) => away,
                Err(_) => continue,
            }
        } else {
            continue;
        };
        if std::fs::remove_dir_all(doomed).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_removes_only_uploads_no_url_can_reach() {
        let bucket = std::env::temp_dir().join(format!("presign-sweep-{}", std::process::id()));
        let uploads = bucket.join(TMP_DIR).join(UPLOADS_DIR);
        let now = SystemTime::now();
        let now_secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let day = Duration::from_secs(86_400);
        for (id, created) in [("old", now_secs - 86_401), ("new", now_secs - 86_399)] {
            std::fs::create_dir_all(uploads.join(id)).unwrap();
            std::fs::write(
                uploads.join(id).join(UPLOAD_FILE),
                format!("k\n{created}\n"),
            )
            .unwrap();
            std::fs::write(uploads.join(id).join("1.abcd"), b"part").unwrap();
        }
        // A create cut short has no record: its directory's time counts
        // (just made, so it stays).
        std::fs::create_dir_all(uploads.join("cut")).unwrap();
        // A removal cut short goes whatever its age.
        let removing = uploads.join(format!("{REMOVED_PREFIX}x"));
        std::fs::create_dir_all(&removing).unwrap();
        std::fs::write(removing.join(UPLOAD_FILE), format!("k\n{now_secs}\n")).unwrap();
        assert_eq!(sweep(&bucket, day, now), 2);
        assert!(!uploads.join("old").exists());
        assert!(!removing.exists());
        assert!(uploads.join("new").join("1.abcd").exists());
        assert!(uploads.join("cut").exists());
        assert_eq!(sweep(&bucket, day, now + 2 * day), 2);
        assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0);
        std::fs::remove_dir_all(&bucket).unwrap();
    }

    #[test]
    fn only_queries_naming_an_upload_are_multipart() {
        assert!(is_multipart(Some("uploads")));
        assert!(is_multipart(Some("uploads=&X-Amz-Date=1")));
        assert!(is_multipart(Some("partNumber=1&uploadId=abc")));
        assert!(!is_multipart(Some("X-Amz-Date=1&uploadsx=1")));
        assert!(!is_multipart(Some("partNumber=1")));
        assert!(!is_multipart(None));
    }
}

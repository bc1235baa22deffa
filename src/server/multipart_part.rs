//! One stored part of a local multipart upload (`local_multipart`): the
//! file `<N>` in the upload's directory, whose first [`HEADER_LEN`] bytes
//! are the part's ETag and a newline, then the part's own bytes.
//!
//! Named by its number alone, a part sent again is placed by one rename
//! over the old file. A rename is atomic: a reader (ListParts, complete)
//! finds the old part or the new one, never both or neither, and two
//! uploads of one number leave exactly one part, without a lock or a
//! look at the other parts. The ETag travels inside the file, written
//! and synced with the bytes, so the ETag read is always the one of the
//! bytes beside it. Everything here is blocking file I/O, for a blocking
//! thread.

use bytes::Bytes;
use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The length of the ETags the bucket makes (`spool::new_etag`).
const ETAG_LEN: usize = 32;
/// Bytes of a part file before the part's own: its ETag and a newline.
pub const HEADER_LEN: u64 = ETAG_LEN as u64 + 1;

/// The header of a part whose ETag is `etag` (one `spool::new_etag` made).
pub fn header(etag: &str) -> Bytes {
    debug_assert_eq!(etag.len(), ETAG_LEN, "{etag}");
    Bytes::from(format!("{etag}\n"))
}

/// The file of part `number` in the upload directory `upload`.
pub fn path(upload: &Path, number: u64) -> PathBuf {
    upload.join(number.to_string())
}

/// The numbers of the parts stored in `upload`, in order. Other files
/// (the upload's record, parts named as older versions did) are not
/// parts.
pub fn numbers(upload: &Path) -> std::io::Result<Vec<u64>> {
    let mut numbers: Vec<u64> = std::fs::read_dir(upload)?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            let number: u64 = name.parse().ok()?;
            // `+1` or `01` would parse too, and are not names we give.
            (number.to_string() == name).then_some(number)
        })
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// A stored part, open: reading `file` gives the part's bytes.
#[derive(Debug)]
pub struct StoredPart {
    /// Its ETag, as answered when it was stored.
    pub etag: String,
    /// The part's length (the header not counted).
    pub size: u64,
    /// When it was written.
    pub modified: SystemTime,
    /// The file, past the header. Open, it keeps these bytes even if the
    /// part is replaced or the upload removed meanwhile.
    pub file: File,
}

impl StoredPart {
    /// Part `number` of the upload directory `upload`, or `None` if there
    /// is none (never stored, the upload gone, or not a file this module
    /// wrote).
    pub fn open(upload: &Path, number: u64) -> std::io::Result<Option<StoredPart>> {
        let mut file = match File::open(path(upload, number)) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            opened => opened?,
        };
        let meta = file.metadata()?;
        let mut head = [0u8; HEADER_LEN as usize];
        match file.read_exact(&mut head) {
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
            read => read?,
        }
        let (etag, newline) = head.split_at(ETAG_LEN);
        if newline != b"\n" || !etag.iter().all(u8::is_ascii_hexdigit) {
            return Ok(None);
        }
        Ok(Some(StoredPart {
            etag: String::from_utf8_lossy(etag).into_owned(),
            size: meta.len() - HEADER_LEN,
            modified: meta.modified().unwrap_or_else(|_| SystemTime::now()),
            file,
        }))
    }

    /// The part's first `len` bytes (fewer if it is shorter); `file` is
    /// left at the part's start.
    pub fn first_bytes(&mut self, len: usize) -> std::io::Result<Vec<u8>> {
        let mut head = Vec::with_capacity(len);
        (&mut self.file).take(len as u64).read_to_end(&mut head)?;
        self.file.seek(SeekFrom::Start(HEADER_LEN))?;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_reads_back_with_its_etag_and_without_its_header() {
        let upload = std::env::temp_dir().join(format!("presign-part-{}", std::process::id()));
        std::fs::create_dir_all(&upload).unwrap();
        let etag = "0123456789abcdef0123456789abcdef";
        let header = header(etag);
        assert_eq!(header.len() as u64, HEADER_LEN);
        std::fs::write(path(&upload, 7), [&header[..], b"the part"].concat()).unwrap();
        // Not parts: the record, an older version's name, a bad header.
        std::fs::write(upload.join("upload"), b"k\n0\n\n").unwrap();
        std::fs::write(upload.join(format!("3.{etag}")), b"old").unwrap();
        std::fs::write(upload.join("+4"), [&header[..], b"x"].concat()).unwrap();
        std::fs::write(path(&upload, 5), b"short").unwrap();
        std::fs::write(path(&upload, 6), [b'z'; HEADER_LEN as usize]).unwrap();
        assert_eq!(numbers(&upload).unwrap(), [5, 6, 7]);

        let mut part = StoredPart::open(&upload, 7).unwrap().unwrap();
        assert_eq!((part.etag.as_str(), part.size), (etag, 8));
        assert_eq!(part.first_bytes(3).unwrap(), b"the");
        let mut rest = Vec::new();
        part.file.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"the part");
        for absent in [5, 6, 8] {
            assert!(StoredPart::open(&upload, absent).unwrap().is_none());
        }
        std::fs::remove_dir_all(&upload).unwrap();
    }
}

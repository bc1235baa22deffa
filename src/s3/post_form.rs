//! A `multipart/form-data` reader for S3's browser POST uploads, fed in
//! chunks as they arrive (no I/O here).
//!
//! S3's form rules (<https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>):
//! the text fields come first and are small (S3 refuses more than 20 KB of
//! them); the field named `file` is the object and the last field that
//! counts: anything after it is ignored. So fields are collected whole and
//! the file is handed on as it comes, never held: the memory this needs is
//! the fields plus one chunk.

use std::fmt;

/// The most bytes of fields (and part headers) before the file, as S3.
pub const MAX_FIELDS_BYTES: usize = 20 * 1024;

/// What the reader found, in order: fields, then the file's start, its
/// bytes, its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormEvent {
    /// A text field.
    Field {
        /// Its name, as sent.
        name: String,
        /// Its value.
        value: String,
    },
    /// The file part begins.
    File {
        /// The `filename` of its `Content-Disposition`, if any.
        filename: Option<String>,
        /// Its `Content-Type` header, if any.
        content_type: Option<String>,
    },
    /// The next bytes of the file.
    Data(Vec<u8>),
    /// The file is complete; the rest of the body does not count.
    End,
}

/// Why a body is not a well-formed POST upload form.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// Not `multipart/form-data` with a usable boundary.
    NotMultipart,
    /// The body breaks the multipart syntax, or ends before the file does.
    Malformed(&'static str),
    /// More than [`MAX_FIELDS_BYTES`] before the file.
    FieldsTooLarge,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::NotMultipart => {
                f.write_str("the Content-Type must be multipart/form-data with a boundary")
            }
            FormError::Malformed(what) => {
                write!(f, "the body is not well-formed multipart/form-data: {what}")
            }
            FormError::FieldsTooLarge => f.write_str(
                "the POST request fields preceding the upload file are larger than 20 KB",
            ),
        }
    }
}

impl std::error::Error for FormError {}

#[derive(Debug)]
enum State {
    /// Before the first delimiter (a preamble is allowed and skipped).
    Preamble,
    /// Just after a delimiter: `--` ends the body, CRLF starts a part.
    AfterDelimiter,
    /// Reading a part's headers.
    Headers,
    /// Reading a text field's value.
    Field { name: String, value: Vec<u8> },
    /// Passing the file's bytes on.
    File,
    /// The file is complete (or the body closed): nothing more is read.
    Done,
}

/// An incremental reader of one form.
#[derive(Debug)]
pub struct FormReader {
    /// `CRLF--boundary`.
    delimiter: Vec<u8>,
    /// Received and not yet consumed; at most a chunk plus a delimiter
    /// while the file streams.
    buffer: Vec<u8>,
    state: State,
    /// Bytes before the file so far, for [`MAX_FIELDS_BYTES`].
    before_file: usize,
    /// How much of `buffer` is known to hold no header terminator: a part
    /// head sent a byte at a time is searched once, not once per byte.
    searched: usize,
    saw_file: bool,
}

impl FormReader {
    /// A reader for a body with this `Content-Type` header value.
    pub fn new(content_type: &str) -> Result<Self, FormError> {
        let mut params = content_type.split(';');
        let media = params.next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("multipart/form-data") {
            return Err(FormError::NotMultipart);
        }
        let boundary = params
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("boundary"))
            .map(|(_, value)| value.trim().trim_matches('"'))
            .filter(|b| (1..=70).contains(&b.len()))
            .ok_or(FormError::NotMultipart)?;
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Ok(FormReader {
            delimiter,
            // The first delimiter has no CRLF before it when there is no
            // preamble: supply one so every delimiter looks the same.
            buffer: b"\r\n".to_vec(),
            state: State::Preamble,
            before_file: 0,
            searched: 0,
            saw_file: false,
        })
    }

    /// Reads `chunk`, appending what it completes to `events`.
    pub fn push(&mut self, chunk: &[u8], events: &mut Vec<FormEvent>) -> Result<(), FormError> {
        if matches!(self.state, State::Done) {
            return Ok(());
        }
        if !matches!(self.state, State::File) {
            self.before_file += chunk.len();
        }
        self.buffer.extend_from_slice(chunk);
        while self.step(events)? {}
        if !matches!(self.state, State::File | State::Done) && self.before_file > MAX_FIELDS_BYTES {
            return Err(FormError::FieldsTooLarge);
        }
        Ok(())
    }

    /// Whether the form is over (its closing boundary, or the end of the
    /// file): the rest of the body does not count and need not be read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The body has ended: an error unless the file was complete.
    pub fn finish(&self) -> Result<(), FormError> {
        match self.state {
            State::Done if self.saw_file => Ok(()),
            State::Done => Err(FormError::Malformed("there is no field named 'file'")),
            _ => Err(FormError::Malformed(
                "the body ends before its closing boundary",
            )),
        }
    }

    /// One step on the buffer; `false` when it needs more bytes.
    fn step(&mut self, events: &mut Vec<FormEvent>) -> Result<bool, FormError> {
        let keep = self.delimiter.len() - 1;
        match &mut self.state {
            State::Preamble => match find(&self.buffer, &self.delimiter) {
                Some(at) => {
                    self.buffer.drain(..at + self.delimiter.len());
                    self.state = State::AfterDelimiter;
                }
                None => {
                    let cut = self.buffer.len().saturating_sub(keep);
                    self.buffer.drain(..cut);
                    return Ok(false);
                }
            },
            State::AfterDelimiter => {
                // Transport padding (spaces, tabs) may follow a delimiter:
                // dropped as it is seen, so it is never scanned twice.
                let pad = self
                    .buffer
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
                self.buffer.drain(..pad);
                match self.buffer.get(..2) {
                    None => return Ok(false),
                    Some(b"--") => {
                        self.state = State::Done;
                        self.buffer = Vec::new();
                    }
                    Some(b"\r\n") => {
                        self.buffer.drain(..2);
                        self.searched = 0;
                        self.state = State::Headers;
                    }
                    Some(_) => return Err(FormError::Malformed("a boundary is followed by junk")),
                }
            }
            State::Headers => {
                let (block, used) = if self.buffer.starts_with(b"\r\n") {
                    (&[][..], 2)
                } else {
                    // A terminator may straddle what was searched and
                    // what is new: back up three bytes.
                    let from = self.searched.saturating_sub(3);
                    match find(&self.buffer[from..], b"\r\n\r\n") {
                        Some(at) => (&self.buffer[..from + at], from + at + 4),
                        None => {
                            self.searched = self.buffer.len();
                            return Ok(false);
                        }
                    }
                };
                let part = PartHeaders::parse(block)?;
                self.buffer.drain(..used);
                if part.name.eq_ignore_ascii_case("file") {
                    // The chunk that ends the fields may carry all of them
                    // and the file's start: `push` checks the limit only
                    // between chunks, so count what came before the file
                    // here, or the limit would depend on how it was cut.
                    if self.before_file.saturating_sub(self.buffer.len()) > MAX_FIELDS_BYTES {
                        return Err(FormError::FieldsTooLarge);
                    }
                    self.saw_file = true;
                    self.state = State::File;
                    events.push(FormEvent::File {
                        filename: part.filename,
                        content_type: part.content_type,
                    });
                } else {
                    self.state = State::Field {
                        name: part.name,
                        value: Vec::new(),
                    };
                }
            }
            State::Field { name, value } => match find(&self.buffer, &self.delimiter) {
                Some(at) => {
                    value.extend_from_slice(&self.buffer[..at]);
                    let value = String::from_utf8(std::mem::take(value))
                        .map_err(|_| FormError::Malformed("a field's value is not UTF-8"))?;
                    events.push(FormEvent::Field {
                        name: std::mem::take(name),
                        value,
                    });
                    self.buffer.drain(..at + self.delimiter.len());
                    self.state = State::AfterDelimiter;
                }
                None => {
                    let cut = self.buffer.len().saturating_sub(keep);
                    value.extend(self.buffer.drain(..cut));
                    return Ok(false);
                }
            },
            State::File => match find(&self.buffer, &self.delimiter) {
                Some(at) => {
                    if at > 0 {
                        self.buffer.truncate(at);
                        events.push(FormEvent::Data(std::mem::take(&mut self.buffer)));
                    }
                    events.push(FormEvent::End);
                    self.buffer = Vec::new();
                    self.state = State::Done;
                }
                None => {
                    let cut = self.buffer.len().saturating_sub(keep);
                    if cut > 0 {
                        let tail = self.buffer.split_off(cut);
                        events.push(FormEvent::Data(std::mem::replace(&mut self.buffer, tail)));
                    }
                    return Ok(false);
                }
            },
            State::Done => return Ok(false),
        }
        Ok(true)
    }
}

/// The headers of one part that matter here.
struct PartHeaders {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
}

impl PartHeaders {
    fn parse(block: &[u8]) -> Result<Self, FormError> {
        let text = std::str::from_utf8(block)
            .map_err(|_| FormError::Malformed("a part's headers are not UTF-8"))?;
        let mut disposition = None;
        let mut content_type = None;
        for line in text.split("\r\n") {
            let (name, value) = line
                .split_once(':')
                .ok_or(FormError::Malformed("a part header has no ':'"))?;
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-disposition") {
                disposition = Some(value.trim());
            } else if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            }
        }
        let disposition =
            disposition.ok_or(FormError::Malformed("a part has no Content-Disposition"))?;
        let (kind, params) = disposition.split_once(';').unwrap_or((disposition, ""));
        if !kind.trim().eq_ignore_ascii_case("form-data") {
            return Err(FormError::Malformed("a part is not form-data"));
        }
        let params = disposition_params(params)?;
        let get = |wanted: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
                .map(|(_, v)| v.clone())
        };
        Ok(PartHeaders {
            name: get("name").ok_or(FormError::Malformed("a part has no name"))?,
            filename: get("filename"),
            content_type,
        })
    }
}

/// `; name="value"; other=token` as pairs; quoted values may escape `"`
/// and `\` with a backslash.
fn disposition_params(mut rest: &str) -> Result<Vec<(String, String)>, FormError> {
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            return Ok(params);
        }
        let (name, after) = rest.split_once('=').ok_or(FormError::Malformed(
            "a Content-Disposition parameter has no '='",
        ))?;
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((i, '"')) => break i + 1,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c)) => value.push(c),
                            None => return Err(FormError::Malformed("an unclosed quoted string")),
                        },
                        Some((_, c)) => value.push(c),
                        None => return Err(FormError::Malformed("an unclosed quoted string")),
                    }
                };
                (value, &quoted[end..])
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim().to_owned(), &after[end..])
            }
        };
        params.push((name.trim().to_owned(), value));
        rest = next;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(offset) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + offset;
        if haystack.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=XyZ";

    /// File bytes with a near-boundary, a NUL and a byte that is not UTF-8.
    const FILE: &[u8] = b"\r\n--XY-not-quite\r\n\0\xff";

    fn body(tail_after_file: &str) -> Vec<u8> {
        let mut body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n\
            user/a b\"c\r\n--XyZ\r\nContent-Disposition: form-data; name=\"x-amz-meta-tag\"\r\n\r\n\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\\\"b.png\"\r\n\
            Content-Type: image/png\r\n\r\n"
            .to_vec();
        body.extend_from_slice(FILE);
        body.extend_from_slice(b"\r\n--XyZ");
        body.extend_from_slice(tail_after_file.as_bytes());
        body
    }

    fn read_in_chunks(body: &[u8], size: usize) -> Result<Vec<FormEvent>, FormError> {
        let mut reader = FormReader::new(TYPE)?;
        let mut events = Vec::new();
        for chunk in body.chunks(size) {
            reader.push(chunk, &mut events)?;
        }
        reader.finish()?;
        // Data events may be split anywhere: join them to compare.
        let mut joined: Vec<FormEvent> = Vec::new();
        for event in events {
            match (joined.last_mut(), event) {
                (Some(FormEvent::Data(all)), FormEvent::Data(more)) => all.extend(more),
                (_, event) => joined.push(event),
            }
        }
        Ok(joined)
    }

    #[test]
    fn reads_fields_then_streams_the_file_whatever_the_chunking() {
        let body = body("--\r\n");
        let expected = vec![
            FormEvent::Field {
                name: "key".into(),
                value: "user/a b\"c".into(),
            },
            FormEvent::Field {
                name: "x-amz-meta-tag".into(),
                value: String::new(),
            },
            FormEvent::File {
                filename: Some("a\"b.png".into()),
                content_type: Some("image/png".into()),
            },
            FormEvent::Data(FILE.to_vec()),
            FormEvent::End,
        ];
        for size in [1, 2, 3, 7, 16, 64, body.len()] {
            assert_eq!(
                read_in_chunks(&body, size).unwrap(),
                expected,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn padding_after_a_boundary_is_skipped_byte_by_byte() {
        let body = b"--XyZ \t \r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nabc\r\n--XyZ  --";
        let events = read_in_chunks(body, 1).unwrap();
        assert_eq!(
            events[1..],
            [FormEvent::Data(b"abc".to_vec()), FormEvent::End]
        );
    }

    #[test]
    fn a_form_closed_without_a_file_is_done_at_its_closing_boundary() {
        let mut reader = FormReader::new(TYPE).unwrap();
        let mut events = Vec::new();
        reader
            .push(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ--",
                &mut events,
            )
            .unwrap();
        assert!(reader.is_done());
        assert!(matches!(reader.finish(), Err(FormError::Malformed(_))));
        // What follows is not read into anything.
        reader.push(&[b'x'; 100_000], &mut events).unwrap();
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn only_the_part_named_file_is_the_object() {
        // Another file input (empty here) comes before `file`: it is a
        // field like any other, which a policy then has to allow.
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"; filename=\"\"\r\n\r\n\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nabc\r\n--XyZ--";
        let events = read_in_chunks(body, 3).unwrap();
        assert_eq!(
            events[0],
            FormEvent::Field {
                name: "other".into(),
                value: String::new()
            }
        );
        assert!(matches!(&events[1], FormEvent::File { filename: Some(f), .. } if f == "f"));
        assert_eq!(
            events[2..],
            [FormEvent::Data(b"abc".to_vec()), FormEvent::End]
        );
    }

    #[test]
    fn fields_after_the_file_are_ignored() {
        let body = body("\r\nContent-Disposition: form-data; name=\"acl\"\r\n\r\nx\r\n--XyZ--");
        let events = read_in_chunks(&body, 5).unwrap();
        assert_eq!(events.last(), Some(&FormEvent::End));
        assert!(!events
            .iter()
            .any(|e| matches!(e, FormEvent::Field { name, .. } if name == "acl")));
    }

    #[test]
    fn refuses_broken_forms() {
        assert_eq!(
            FormReader::new("multipart/form-data").unwrap_err(),
            FormError::NotMultipart
        );
        assert_eq!(
            FormReader::new("application/x-www-form-urlencoded; boundary=a").unwrap_err(),
            FormError::NotMultipart
        );
        let cut = body("--");
        assert!(matches!(
            read_in_chunks(&cut[..cut.len() - 10], 4),
            Err(FormError::Malformed(_))
        ));
        let no_file = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ--";
        assert!(matches!(
            read_in_chunks(no_file, 3),
            Err(FormError::Malformed(_))
        ));
        let big = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n{}",
            "x".repeat(MAX_FIELDS_BYTES)
        );
        assert_eq!(
            read_in_chunks(big.as_bytes(), 1000),
            Err(FormError::FieldsTooLarge)
        );
    }
}

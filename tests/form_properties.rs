//! Properties of the streaming `multipart/form-data` reader of browser
//! POST uploads, on generated forms and on arbitrary bytes: whatever the
//! body and however it is cut into chunks, the reader never panics, and
//! a well-formed form yields its fields and exactly its file's bytes.
#![cfg(feature = "server")]

#[path = "common/post_form.rs"]
mod post_form;

use post_form::{content_type, BOUNDARY};
use presign::s3::{FormError, FormEvent, FormReader};
use proptest::prelude::*;

/// A form body: a preamble (which does not count), `fields`, then `file`
/// as the part named `file`, then `trailer` after the closing delimiter
/// (which does not count either).
fn form(fields: &[(String, String)], file: &[u8], trailer: &[u8]) -> Vec<u8> {
    let mut out = b"preamble\r\n".to_vec();
    out.extend(post_form::body(fields, "a.png", "image/png", file));
    out.extend_from_slice(trailer);
    out
}

/// What the reader makes of `body` fed in pieces cut at `cuts`: its
/// events with the file's bytes joined into one `Data`, or the error,
/// and then `finish`'s verdict.
fn read(body: &[u8], cuts: &[usize]) -> (Result<Vec<FormEvent>, FormError>, bool) {
    let mut reader = FormReader::new(&content_type()).unwrap();
    let mut events = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort_unstable();
    points.push(body.len());
    let mut start = 0;
    for end in points {
        if let Err(e) = reader.push(&body[start..end], &mut events) {
            return (Err(e), false);
        }
        start = end;
    }
    let finished = reader.finish().is_ok();
    let mut joined: Vec<FormEvent> = Vec::new();
    for event in events {
        match (joined.last_mut(), event) {
            (Some(FormEvent::Data(all)), FormEvent::Data(more)) => all.extend(more),
            (_, event) => joined.push(event),
        }
    }
    (Ok(joined), finished)
}

fn field() -> impl Strategy<Value = (String, String)> {
    // Names as S3's fields are spelled; values any text on one line.
    ("[A-Za-z][A-Za-z0-9-]{0,20}", "[^\r\n]{0,60}")
        .prop_filter("not the file", |(name, _)| name != "file")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_form_yields_its_fields_and_exactly_its_file(
        fields in proptest::collection::vec(field(), 0..6),
        // Bytes that look like line ends and delimiters are the hard part.
        file in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b'-')], 0..3000),
        trailer in proptest::collection::vec(any::<u8>(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let body = form(&fields, &file, &trailer);
        let (events, finished) = read(&body, &cuts);
        let events = events.unwrap();
        prop_assert!(finished);
        let mut expected: Vec<FormEvent> = fields
            .iter()
            .map(|(name, value)| FormEvent::Field { name: name.clone(), value: value.clone() })
            .collect();
        expected.push(FormEvent::File {
            filename: Some("a.png".into()),
            content_type: Some("image/png".into()),
        });
        if !file.is_empty() {
            expected.push(FormEvent::Data(file.clone()));
        }
        expected.push(FormEvent::End);
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn any_bytes_in_any_chunks_give_one_answer_and_no_panic(
        body in proptest::collection::vec(
            prop_oneof![
                any::<u8>(),
                Just(b'\r'),
                Just(b'\n'),
                Just(b'-'),
                Just(b'x'),
            ],
            0..600),
        prefix in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 1..12),
    ) {
        // Half the time the body starts like a form, to get past the
        // first delimiter.
        let mut body = body;
        if prefix {
            let mut start = format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
            )
            .into_bytes();
            start.append(&mut body);
            body = start;
        }
        let whole = read(&body, &[]);
        let chunked = read(&body, &cuts);
        prop_assert_eq!(whole, chunked);
    }

    // Found by this test: a form whose fields over the limit came in the
    // same chunk as the file's start was accepted.
    #[test]
    fn fields_over_the_limit_are_refused_however_they_arrive(
        extra in 1usize..4000,
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let big = "v".repeat(presign::s3::MAX_FIELDS_BYTES + extra);
        let body = form(&[("x-big".into(), big)], b"file", b"");
        let (events, _) = read(&body, &cuts);
        prop_assert_eq!(events, Err(FormError::FieldsTooLarge));
    }

    #[test]
    fn fields_up_to_the_limit_are_read_however_they_arrive(
        short in 0usize..4000,
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        // Everything before the file's bytes counts: the preamble, the
        // parts' heads and the fields.
        let empty = form(&[("x-big".into(), String::new())], b"", b"");
        let overhead = empty.len() - format!("\r\n--{BOUNDARY}--\r\n").len();
        let value = "v".repeat(presign::s3::MAX_FIELDS_BYTES - overhead - short);
        let body = form(&[("x-big".into(), value.clone())], b"file", b"");
        let (events, finished) = read(&body, &cuts);
        prop_assert!(finished);
        let events = events.unwrap();
        prop_assert_eq!(&events[0], &FormEvent::Field { name: "x-big".into(), value });
    }
}

//! Whatever a browser (or anyone) posts, the form reader and the POST
//! verifier answer and never panic: the local bucket runs both on every
//! POST upload. And the reader's answer does not depend on how the body is
//! cut into chunks.
//!
//! The first input byte sets the chunk size (1 to 256); the rest is the
//! body of a `multipart/form-data; boundary=fuzz` request. The fields
//! before the file go to `verify_post` with a fixed signer (`AKIDFUZZ`,
//! `us-east-1`, `s3`) at a fixed time (2026-11-29T12:00:00Z), which the
//! seed was signed with, and every field value to `read_policy`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use presign::s3::{FormEvent, FormReader};
use presign::sigv4::{read_policy, verify_post, Credentials, PostForm, Signer};
use std::sync::OnceLock;
use time::OffsetDateTime;

/// 2026-11-29T12:00:00Z.
const NOW: i64 = 1_795_953_600;

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        Signer::new(
            Credentials::new("AKIDFUZZ", "fuzz-secret"),
            "us-east-1",
            "s3",
        )
    })
}

/// The events of `body` read in chunks of `size`, data joined; `None` on
/// a form error.
fn read(body: &[u8], size: usize) -> Option<Vec<FormEvent>> {
    let mut reader = FormReader::new("multipart/form-data; boundary=fuzz").ok()?;
    let mut events = Vec::new();
    for chunk in body.chunks(size) {
        reader.push(chunk, &mut events).ok()?;
    }
    let complete = reader.finish().is_ok();
    let mut joined: Vec<FormEvent> = Vec::new();
    for event in events {
        match (joined.last_mut(), event) {
            (Some(FormEvent::Data(all)), FormEvent::Data(more)) => all.extend(more),
            (_, event) => joined.push(event),
        }
    }
    complete.then_some(joined)
}

fuzz_target!(|input: &[u8]| {
    let Some((&size, body)) = input.split_first() else {
        return;
    };
    let chunked = read(body, usize::from(size) + 1);
    let whole = read(body, body.len().max(1));
    assert_eq!(chunked, whole, "chunking changed the form");
    let Some(events) = whole else { return };
    let mut fields = Vec::new();
    let mut filename = None;
    let mut length = 0u64;
    for event in &events {
        match event {
            FormEvent::Field { name, value } => {
                let _ = read_policy(value);
                fields.push((name.as_str(), value.as_str()));
            }
            FormEvent::File { filename: name, .. } => filename = name.as_deref(),
            FormEvent::Data(data) => length += data.len() as u64,
            FormEvent::End => {}
        }
    }
    let form = PostForm {
        bucket: "b",
        fields: &fields,
        filename,
    };
    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("a valid time");
    if let Ok(verified) = verify_post(&form, now, |id| (id == "AKIDFUZZ").then_some(signer())) {
        let _ = verified.check_length(length, true);
        assert!(verified.expiration >= now);
    }
});

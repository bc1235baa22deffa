//! Whatever a client sends, the verifier answers and never panics: the
//! local bucket runs it on every request that reaches it. And what it
//! answers hangs together: a request it accepts has parameters that parse,
//! and the trace it gives with `SignatureDoesNotMatch` is the one anybody
//! can rebuild from those parameters without the secret.
//!
//! The input is read as the head of a request, lossy UTF-8:
//!
//! ```text
//! PUT /s3/b/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...
//! host:127.0.0.1:3000
//! content-type:image/png
//! ```
//!
//! A first line without a space is the target of a `GET`. Each request is
//! checked twice: by a fixed signer (`AKIDFUZZ`, `us-east-1`, `s3`) at a
//! fixed time (2026-11-29T12:00:00Z), which the seeds were signed with; and
//! by a signer made to agree with the request's own scope, at its own
//! `X-Amz-Date`, so that any parsable request gets to the signature.

#![no_main]

use libfuzzer_sys::fuzz_target;
use presign::sigv4::{
    verify_presigned, Credentials, PresignedParams, Received, Signer, SigningOptions,
    VerifyErrorKind, VerifyOptions, UNSIGNED_PAYLOAD,
};
use std::sync::OnceLock;
use time::OffsetDateTime;

const SECRET: &str = "fuzz-secret";

/// 2026-11-29T12:00:00Z.
const NOW: i64 = 1_795_953_600;

/// Shared by every run, as a server shares its signer, key cache included.
fn fixed_signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| Signer::new(Credentials::new("AKIDFUZZ", SECRET), "us-east-1", "s3"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or(("GET", first));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(&str, &str)> = lines
        .take(8)
        .map(|line| line.split_once(':').unwrap_or((line, "")))
        .collect();
    let received = Received {
        method,
        path,
        query,
        headers: &headers,
        payload_hash: UNSIGNED_PAYLOAD,
    };

    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("a valid time");
    let options = VerifyOptions::default();
    check(&received, now, options, |id| {
        (id == "AKIDFUZZ").then(fixed_signer)
    });

    let Ok(params) = PresignedParams::parse(query) else {
        return;
    };
    let _ = params.expires_at();
    let signer = Signer::new(
        Credentials::new(params.access_key_id.as_str(), SECRET),
        params.region.as_str(),
        params.service.as_str(),
    );
    for signing in [SigningOptions::S3, SigningOptions::AWS] {
        let options = VerifyOptions { signing, ..options };
        check(&received, params.date.time(), options, |_| Some(&signer));
    }
});

fn check<'s>(
    received: &Received<'_>,
    now: OffsetDateTime,
    options: VerifyOptions,
    signer_for: impl FnOnce(&str) -> Option<&'s Signer>,
) {
    let params = PresignedParams::parse(received.query);
    let trace = params
        .as_ref()
        .map(|params| params.trace(received, options.signing));
    match verify_presigned(received, now, options, signer_for) {
        Ok(verified) => {
            let params = params.expect("an accepted query parses");
            assert_eq!(verified.access_key_id, params.access_key_id);
            assert_eq!(verified.signed_headers, params.signed_headers);
            assert_eq!(verified.expires_at, params.expires_at());
        }
        Err(e) if e.kind() == VerifyErrorKind::SignatureMismatch => match e.trace() {
            Some(given) => assert_eq!(trace, Ok(Ok(given.clone()))),
            // A signed header missing from the request: nothing to hash.
            None => assert!(matches!(trace, Ok(Err(_)))),
        },
        Err(_) => {}
    }
}

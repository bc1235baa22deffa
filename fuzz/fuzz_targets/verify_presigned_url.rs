//! Whatever a client sends, the verifier answers and never panics: the
//! local bucket runs it on every request that reaches it.
//!
//! The input is taken as a request target, `path?query`. When the query
//! parses as presigned parameters, the signer is made to agree with their
//! scope and the clock is set to their signing time, so that the checks run
//! all the way to the signature.

#![no_main]

use libfuzzer_sys::fuzz_target;
use presign::sigv4::{
    verify_presigned, Credentials, PresignedParams, Received, Signer, SigningOptions,
    VerifyOptions, UNSIGNED_PAYLOAD,
};
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let target = String::from_utf8_lossy(data);
    let (path, query) = target.split_once('?').unwrap_or(("/", &target));
    let headers = [
        ("host", "bucket.s3.amazonaws.com"),
        ("Content-Type", " image/png "),
        ("x-amz-meta-a", "1"),
        ("x-amz-meta-a", "2"),
    ];
    let received = Received {
        method: "PUT",
        path,
        query,
        headers: &headers,
        payload_hash: UNSIGNED_PAYLOAD,
    };
    let (signer, now) = match PresignedParams::parse(query) {
        Ok(params) => {
            let _ = params.trace(&received, SigningOptions::S3);
            let _ = params.trace(&received, SigningOptions::AWS);
            let credentials = Credentials::new(params.access_key_id.as_str(), "secret");
            let signer = Signer::new(credentials, params.region.as_str(), params.service.as_str());
            (signer, params.date.time())
        }
        Err(_) => (
            Signer::new(Credentials::new("AKID", "secret"), "us-east-1", "s3"),
            OffsetDateTime::UNIX_EPOCH,
        ),
    };
    for options in [
        VerifyOptions::default(),
        VerifyOptions {
            signing: SigningOptions::AWS,
            ..VerifyOptions::default()
        },
    ] {
        let _ = verify_presigned(&received, now, options, |_| Some(&signer));
    }
});

//! AWS Signature Version 4, written out step by step, with no I/O.
//!
//! | file | SigV4 step |
//! | --- | --- |
//! | [`encode`] | RFC 3986 percent-encoding, AWS flavour |
//! | [`canonical`] | 1: the canonical request (URI, query, headers) |
//! | [`sign`] | 2 and 4: string to sign, signature, header and query forms |
//! | `auth_query` | the `X-Amz-*` parameters of a presigned URL |
//! | [`key`] | 3: the signing key and its per-day cache |
//! | [`verify`] | the other side: checking a presigned request |
//! | [`post_policy`], [`post_verify`] | browser POST uploads: signing a policy, checking a form |
//! | [`base64`] | the policy's encoding |
//! | [`amz_date`], [`credentials`] | the inputs |
//! | `json` | the small JSON of POST policies and credential documents |
//!
//! Time is always a parameter: nothing here reads a clock.
//!
//! ```
//! use presign::sigv4::{Credentials, Request, Signer, SigningOptions, UNSIGNED_PAYLOAD};
//! use time::macros::datetime;
//!
//! let signer = Signer::new(Credentials::new("AKIAIOSFODNN7EXAMPLE",
//!     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "us-east-1", "s3");
//! let request = Request {
//!     method: "GET",
//!     path: "/test.txt",
//!     query: "",
//!     headers: &[("host", "examplebucket.s3.amazonaws.com")],
//!     payload_hash: UNSIGNED_PAYLOAD,
//! };
//! let presigned = signer
//!     .presign(&request, datetime!(2013-05-24 0:00 UTC), 86400, SigningOptions::S3)
//!     .unwrap();
//! assert_eq!(presigned.signature,
//!     "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
//! ```

pub mod amz_date;
mod auth_query;
pub mod base64;
pub mod canonical;
pub mod credentials;
pub mod encode;
pub(crate) mod json;
pub mod key;
pub mod post_policy;
pub mod post_verify;
pub mod sign;
pub mod verify;

pub use amz_date::AmzDate;
pub use credentials::Credentials;
pub use post_policy::{Condition, PostPolicy, SignedPolicy};
pub use post_verify::{verify_post, PostError, PostErrorKind, PostForm, VerifiedPost};
pub use sign::{
    expiry, payload_hash, InvalidExpiry, Presigned, Request, SignedHeaders, Signer, SigningOptions,
    Trace, EMPTY_SHA256, MAX_EXPIRES, UNSIGNED_PAYLOAD,
};
pub use verify::{
    verify_presigned, PresignedParams, Received, Verified, VerifyError, VerifyErrorKind,
    VerifyOptions, AUTH_PARAMETERS,
};

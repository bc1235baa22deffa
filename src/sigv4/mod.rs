//! AWS Signature Version 4, written out step by step, with no I/O.
//!
//! | file | SigV4 step | public items |
//! | --- | --- | --- |
//! | `constants` | the algorithm's name, payload hashes, the longest expiry | [`UNSIGNED_PAYLOAD`], [`EMPTY_SHA256`], [`MAX_EXPIRES`] |
//! | `encode` | RFC 3986 percent-encoding, AWS flavour | |
//! | `canonical` | 1: the canonical request (URI, query, headers, assembly) | [`is_token`] |
//! | `string_to_sign` | 2: the string to sign | |
//! | `key` | 3: the signing key and its per-day cache | |
//! | `sign` | 4: the signature, as a header or a presigned query; the [`Signer`] that runs steps 1 to 4 | [`Signer`], [`Request`], [`SigningOptions`], [`Presigned`], [`SignedHeaders`], [`Trace`], [`InvalidExpiry`] |
//! | `auth_query` | the query form: the `X-Amz-*` parameters and where the session token goes | |
//! | `sink` | writing the strings of steps 1 and 2 into a hash, a trace or both | |
//! | `verify` | the other side: checking a presigned request | [`verify_presigned`], [`VerifyError`] |
//! | `post_policy`, `post_verify` | browser POST uploads: signing a policy, checking a form | [`PostPolicy`], [`verify_post`], [`PostError`] |
//! | [`base64`] | the policy's encoding | [`base64::encode`], [`base64::decode`] |
//! | `amz_date`, `credentials` | the inputs | [`AmzDate`], [`Credentials`] |
//! | `json` | the small JSON of POST policies and credential documents | |
//!
//! Every public item is re-exported here; the files themselves are private.
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

mod amz_date;
mod auth_query;
pub mod base64;
pub(crate) mod canonical;
mod constants;
mod credentials;
pub(crate) mod encode;
pub(crate) mod json;
mod key;
pub(crate) mod post_policy;
mod post_verify;
mod sign;
mod sink;
mod string_to_sign;
mod verify;

pub use amz_date::AmzDate;
pub use canonical::is_token;
pub use constants::{EMPTY_SHA256, MAX_EXPIRES, UNSIGNED_PAYLOAD};
pub use credentials::Credentials;
pub use post_policy::{Condition, PostPolicy, SignedPolicy};
pub use post_verify::{read_policy, verify_post, PostError, PostErrorKind, PostForm, VerifiedPost};
pub use sign::{
    expiry, payload_hash, InvalidExpiry, Presigned, Request, SignedHeaders, Signer, SigningOptions,
    Trace,
};
pub use verify::{
    verify_presigned, PresignedParams, Received, Verified, VerifyError, VerifyErrorKind,
    VerifyOptions, AUTH_PARAMETERS,
};

/// The canonicalisation steps, for the fuzz targets only (feature
/// `fuzzing`): not part of the public API, and free to change.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Step 1's pieces: canonical URI, query and headers.
    pub mod canonical {
        pub use crate::sigv4::canonical::{headers, query, uri, Headers};
    }
    /// SigV4's percent-encoding.
    pub mod encode {
        pub use crate::sigv4::encode::{
            component, decode, encode_bytes_into, encode_into, path, Set, COMPONENT, PATH,
        };
    }
}

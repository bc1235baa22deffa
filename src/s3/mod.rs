//! S3 on top of [`crate::sigv4`]: endpoints, buckets, object URLs.
//!
//! * [`Endpoint`]: the service URL (AWS, MinIO, R2, SeaweedFS, the local bucket).
//! * [`Bucket`]: a bucket on an endpoint, its addressing style, and
//!   [`Bucket::presign`] for any object request.
//! * [`Bucket::presign_post`]: a browser POST upload form (`post`), and
//!   [`FormReader`], the streaming reader of such forms (`post_form`).
//! * [`InvalidRegion::check`]: the rule for region names (`region`).
//!
//! ```
//! use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
//! use presign::sigv4::{Credentials, Signer};
//! use time::macros::datetime;
//!
//! let signer = Signer::new(Credentials::new("AKIAIOSFODNN7EXAMPLE",
//!     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "us-east-1", "s3");
//! let bucket = Bucket::new(Endpoint::parse("https://s3.amazonaws.com").unwrap(),
//!     "examplebucket", "us-east-1", AddressingStyle::VirtualHosted).unwrap();
//! let get = ObjectRequest::new("GET", "test.txt");
//! let presigned = bucket.presign(&signer, &get, datetime!(2013-05-24 0:00 UTC), 86400).unwrap();
//! assert_eq!(presigned.url, "https://examplebucket.s3.amazonaws.com/test.txt\
//!     ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
//!     &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
//!     &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
//!     &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
//! ```

mod bucket;
mod endpoint;
mod post;
mod post_form;
mod region;

pub use bucket::{
    AddressingStyle, Bucket, InvalidBucketName, ObjectRequest, PresignError, PresignedRequest,
    SignedRequest, METHODS,
};
pub use endpoint::{Endpoint, InvalidEndpoint};
pub use post::{PostRequest, PresignedPost, FILENAME_PLACEHOLDER};
pub use post_form::{FormError, FormEvent, FormReader, MAX_FIELDS_BYTES};
pub use region::InvalidRegion;

//! The fixed strings and limits of SigV4 that every step shares: a leaf,
//! importing nothing, so that no step depends on another for them.

/// The only algorithm this crate speaks.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of a presigned S3 URL: the body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The hex SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The longest a presigned URL may live: seven days, as S3 allows.
pub const MAX_EXPIRES: u32 = 604_800;
/// Hex digits in a SHA-256 digest or a signature.
pub(crate) const HEX_DIGEST_LEN: usize = 64;

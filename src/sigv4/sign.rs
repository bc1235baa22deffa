//! Steps 2 and 4 of SigV4: the string to sign and the signature, in both
//! forms: an `Authorization` header, or a presigned query string.

use super::amz_date::AmzDate;
use super::canonical;
use super::credentials::Credentials;
use super::encode;
use super::key::KeyCache;
use hmac::Mac;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use time::OffsetDateTime;

/// The only algorithm this crate speaks.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of a presigned S3 URL: the body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The hex SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The longest a presigned URL may live: seven days, as S3 allows.
pub const MAX_EXPIRES: u32 = 604_800;

/// The hex SHA-256 of a body, for [`Request::payload_hash`].
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// A request to sign, as it will travel on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// The path as sent, e.g. `/my%20key` (see [`SigningOptions`] for how it
    /// is canonicalised).
    pub path: &'a str,
    /// The query string as sent, without `?`; may be empty.
    pub query: &'a str,
    /// The headers to sign, `host` among them. Names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
}

/// How a service wants requests canonicalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningOptions {
    /// Remove `.`/`..` segments and repeated `/` from the path.
    pub normalize_path: bool,
    /// Encode the (already encoded) path once more.
    pub double_encode_path: bool,
    /// Sign the session token; otherwise it is added after signing.
    pub sign_session_token: bool,
    /// Header signing: add and sign `x-amz-content-sha256`.
    pub content_sha256_header: bool,
}

impl SigningOptions {
    /// The rules of every AWS service but S3 (and of the AWS test suite).
    pub const AWS: SigningOptions = SigningOptions {
        normalize_path: true,
        double_encode_path: true,
        sign_session_token: true,
        content_sha256_header: false,
    };
    /// S3's rules: the key is encoded exactly once and never normalised, and
    /// header-signed requests carry `x-amz-content-sha256`.
    pub const S3: SigningOptions = SigningOptions {
        normalize_path: false,
        double_encode_path: false,
        sign_session_token: true,
        content_sha256_header: true,
    };
}

/// The intermediate strings of one signature, for debugging a mismatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Step 1: the canonical request.
    pub canonical_request: String,
    /// Step 2: the string to sign.
    pub string_to_sign: String,
}

/// The result of [`Signer::sign_headers`].
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    /// Headers to add to the request, in this order (`X-Amz-Security-Token`,
    /// `X-Amz-Date`, `x-amz-content-sha256`, `Authorization`).
    pub headers: Vec<(&'static str, String)>,
    /// The hex signature.
    pub signature: String,
    /// How it was computed.
    pub trace: Trace,
}

/// The result of [`Signer::presign`].
#[derive(Debug, Clone)]
pub struct Presigned {
    /// The authentication parameters, encoded, to append to the request's
    /// query: `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires`,
    /// `-SignedHeaders`, `-Security-Token` (if any), `-Signature`.
    pub query: String,
    /// The hex signature.
    pub signature: String,
    /// How it was computed.
    pub trace: Trace,
}

impl Presigned {
    /// The parameters of [`Presigned::query`] as `(name, encoded value)`.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        canonical::query_pairs(&self.query)
    }
}

/// A presign request asked for an expiry outside `1..=604800` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidExpiry(pub u64);

impl std::fmt::Display for InvalidExpiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "expiry of {} seconds is outside 1..={MAX_EXPIRES} (seven days)",
            self.0
        )
    }
}

impl std::error::Error for InvalidExpiry {}

/// Signs requests for one set of credentials in one region and service.
///
/// Cheap to share between threads; it caches the day's signing key.
#[derive(Debug)]
pub struct Signer {
    credentials: Credentials,
    region: String,
    service: String,
    keys: KeyCache,
}

impl Signer {
    /// A signer for `service` (`s3`, or `service` in the AWS test suite) in
    /// `region`.
    pub fn new(
        credentials: Credentials,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Signer {
            credentials,
            region: region.into(),
            service: service.into(),
            keys: KeyCache::default(),
        }
    }

    /// The credentials this signer uses.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The region of the credential scope.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service of the credential scope.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Signs `request` with an `Authorization` header at `time`.
    pub fn sign_headers(
        &self,
        request: &Request<'_>,
        time: OffsetDateTime,
        options: SigningOptions,
    ) -> SignedHeaders {
        let date = AmzDate::new(time);
        let token = self.credentials.session_token();
        let mut all: Vec<(&str, &str)> = request.headers.to_vec();
        all.push(("x-amz-date", date.as_str()));
        if options.content_sha256_header {
            all.push(("x-amz-content-sha256", request.payload_hash));
        }
        if let (Some(token), true) = (token, options.sign_session_token) {
            all.push(("x-amz-security-token", token));
        }
        let headers = canonical::headers(all);
        let query = canonical::query(request.query, &[], |_| false);
        let trace = self.trace_with(request, &date, &query, &headers, options);
        let signature = self.signature(&date, &trace.string_to_sign);

        let mut added = Vec::with_capacity(4);
        if let Some(token) = token {
            added.push(("X-Amz-Security-Token", token.to_owned()));
        }
        added.push(("X-Amz-Date", date.as_str().to_owned()));
        if options.content_sha256_header {
            added.push(("x-amz-content-sha256", request.payload_hash.to_owned()));
        }
        let mut authorization = String::with_capacity(200);
        let _ = write!(
            authorization,
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
            self.credentials.access_key_id(),
            self.scope(&date),
            headers.signed,
        );
        added.push(("Authorization", authorization));
        SignedHeaders {
            headers: added,
            signature,
            trace,
        }
    }

    /// Presigns `request` at `time` for `expires` seconds (1..=604800).
    pub fn presign(
        &self,
        request: &Request<'_>,
        time: OffsetDateTime,
        expires: u32,
        options: SigningOptions,
    ) -> Result<Presigned, InvalidExpiry> {
        if !(1..=MAX_EXPIRES).contains(&expires) {
            return Err(InvalidExpiry(expires.into()));
        }
        let date = AmzDate::new(time);
        let mut credential = String::with_capacity(96);
        encode::encode_into(
            &mut credential,
            self.credentials.access_key_id().as_bytes(),
            encode::COMPONENT,
        );
        let _ = write!(
            credential,
            "%2F{}%2F{}%2F{}%2Faws4_request",
            date.date(),
            encode::component(&self.region),
            encode::component(&self.service)
        );
        let headers = canonical::headers(request.headers.iter().copied());
        let signed_headers = encode::component(&headers.signed);
        let expires_text = expires.to_string();
        let token = self.credentials.session_token().map(encode::component);

        let mut auth: Vec<(&str, &str)> = vec![
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", &credential),
            ("X-Amz-Date", date.as_str()),
            ("X-Amz-Expires", &expires_text),
            ("X-Amz-SignedHeaders", &signed_headers),
        ];
        if let (Some(token), true) = (&token, options.sign_session_token) {
            auth.push(("X-Amz-Security-Token", token));
        }
        let query = canonical::query(request.query, &auth, |_| false);
        let trace = self.trace_with(request, &date, &query, &headers, options);
        let signature = self.signature(&date, &trace.string_to_sign);

        if let (Some(token), false) = (&token, options.sign_session_token) {
            auth.push(("X-Amz-Security-Token", token));
        }
        let mut out = String::with_capacity(
            auth.iter()
                .map(|(n, v)| n.len() + v.len() + 2)
                .sum::<usize>()
                + 84,
        );
        for (name, value) in &auth {
            out.push_str(name);
            out.push('=');
            out.push_str(value);
            out.push('&');
        }
        out.push_str("X-Amz-Signature=");
        out.push_str(&signature);
        Ok(Presigned {
            query: out,
            signature,
            trace,
        })
    }

    /// `date/region/service/aws4_request`.
    pub(crate) fn scope(&self, date: &AmzDate) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            date.date(),
            self.region,
            self.service
        )
    }

    pub(crate) fn trace_with(
        &self,
        request: &Request<'_>,
        date: &AmzDate,
        query: &str,
        headers: &canonical::Headers,
        options: SigningOptions,
    ) -> Trace {
        let uri = canonical::uri(
            request.path,
            options.normalize_path,
            options.double_encode_path,
        );
        let canonical_request =
            canonical_request(request.method, &uri, query, headers, request.payload_hash);
        let string_to_sign = string_to_sign(date, &self.scope(date), &canonical_request);
        Trace {
            canonical_request,
            string_to_sign,
        }
    }

    /// The hex HMAC of `string_to_sign` under the day's signing key.
    pub(crate) fn signature(&self, date: &AmzDate, string_to_sign: &str) -> String {
        let mut mac = self.mac(date);
        mac.update(string_to_sign.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub(crate) fn mac(&self, date: &AmzDate) -> super::key::HmacSha256 {
        self.keys.mac_for(
            self.credentials.secret_access_key(),
            date.date(),
            &self.region,
            &self.service,
        )
    }
}

/// Joins the six parts of a canonical request.
pub(crate) fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &canonical::Headers,
    payload_hash: &str,
) -> String {
    let mut out = String::with_capacity(
        method.len()
            + uri.len()
            + query.len()
            + headers.block.len()
            + headers.signed.len()
            + payload_hash.len()
            + 5,
    );
    out.push_str(method);
    out.push('\n');
    out.push_str(uri);
    out.push('\n');
    out.push_str(query);
    out.push('\n');
    out.push_str(&headers.block);
    out.push('\n');
    out.push_str(&headers.signed);
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// `ALGORITHM \n DATE \n SCOPE \n hex(sha256(canonical request))`.
pub(crate) fn string_to_sign(date: &AmzDate, scope: &str, canonical_request: &str) -> String {
    let mut hash = [0u8; 64];
    // 32 bytes always fit in 64 hex digits.
    let _ = hex::encode_to_slice(Sha256::digest(canonical_request.as_bytes()), &mut hash);
    let mut out = String::with_capacity(ALGORITHM.len() + 16 + scope.len() + 64 + 3);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(date.as_str());
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    out.push_str(std::str::from_utf8(&hash).unwrap_or_default());
    out
}

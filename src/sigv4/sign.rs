//! Step 4 of SigV4: the signature, in both forms: an `Authorization`
//! header, or a presigned query string (whose parameters `auth_query`
//! writes). The signer ties the steps together: `canonical` (1),
//! `string_to_sign` (2), `key` (3).

use super::amz_date::AmzDate;
use super::auth_query::AuthQuery;
use super::canonical;
use super::constants::{ALGORITHM, HEX_DIGEST_LEN, MAX_EXPIRES};
use super::credentials::Credentials;
use super::key::{HmacSha256, KeyCache};
use super::sink::{self, hex_digest, Tee};
use super::string_to_sign;
use crate::latest::Latest;
use hmac::Mac;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;
use time::OffsetDateTime;

/// When a URL signed at `signed_at` for `expires` seconds stops working.
/// A URL signed in the last week of year 9999 expires at its end: the time
/// may come from a client, and overflowing would panic.
pub fn expiry(signed_at: OffsetDateTime, expires: u32) -> OffsetDateTime {
    signed_at
        .checked_add(time::Duration::seconds(expires.into()))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}

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
    /// The headers to sign, `host` among them; when verifying, every header
    /// received (only the signed ones are read). Names in any case.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, or [`super::UNSIGNED_PAYLOAD`].
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
pub struct InvalidExpiry(u64);

impl InvalidExpiry {
    /// The expiry asked for, in seconds.
    pub fn seconds(&self) -> u64 {
        self.0
    }

    /// Refuses an expiry outside `1..=MAX_EXPIRES`: the one rule for
    /// presigning, the server's configuration and the command line.
    pub fn check(expires: u32) -> Result<(), InvalidExpiry> {
        match expires {
            1..=MAX_EXPIRES => Ok(()),
            _ => Err(InvalidExpiry(expires.into())),
        }
    }
}

impl std::fmt::Display for InvalidExpiry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "expiry of {} seconds is outside 1..={MAX_EXPIRES}: presigned URLs live at most 7 days",
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
    /// The signing key's HMAC state with the lines of the string to sign
    /// before the hash already absorbed, for the latest `X-Amz-Date`: the
    /// URLs signed within one second share them.
    head_absorbed: Latest<[u8; 16], HmacSha256>,
    auth_query: AuthQuery,
    /// Whether the access key id, region or service has a `/`, which
    /// splits the credential scope (see [`Signer::splits_scope`]).
    splits_scope: bool,
}

impl Signer {
    /// A signer for `service` (`s3`, or `service` in the AWS test suite) in
    /// `region`.
    pub fn new(
        credentials: Credentials,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        let (region, service) = (region.into(), service.into());
        let splits_scope = [credentials.access_key_id(), &region, &service]
            .iter()
            .any(|part| part.contains('/'));
        Signer {
            splits_scope,
            auth_query: AuthQuery::new(&credentials, &region, &service),
            credentials,
            region,
            service,
            keys: KeyCache::default(),
            head_absorbed: Latest::default(),
        }
    }

    /// The credentials this signer uses.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Whether the access key id, region or service contains a `/`: the
    /// credential scope is `/`-separated, so no verifier can read it back.
    pub fn splits_scope(&self) -> bool {
        self.splits_scope
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
        let headers = canonical::headers(&all);
        let query = canonical::query(request.query, "", |_| false);
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
            headers.signed(),
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
        let mut query = String::new();
        let mut trace = Trace::default();
        let uri = canonical::uri(
            request.path,
            options.normalize_path,
            options.double_encode_path,
        );
        self.presign_into(
            &mut query,
            request,
            &uri,
            time,
            expires,
            options,
            Some(&mut trace),
        )?;
        let signature = query[query.len() - HEX_DIGEST_LEN..].to_owned();
        Ok(Presigned {
            query,
            signature,
            trace,
        })
    }

    /// [`Signer::presign`], appending the query to `out` (a URL up to its
    /// `?`) rather than to a string of its own, and writing the canonical
    /// request and string to sign only into their hashes unless `trace`
    /// asks for them too: this runs for every upload. `uri` is the
    /// canonical URI of `request.path`, which the caller may already know.
    /// Returns the signing time as written in `X-Amz-Date`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn presign_into(
        &self,
        out: &mut String,
        request: &Request<'_>,
        uri: &str,
        time: OffsetDateTime,
        expires: u32,
        options: SigningOptions,
        trace: Option<&mut Trace>,
    ) -> Result<AmzDate, InvalidExpiry> {
        InvalidExpiry::check(expires)?;
        let date = AmzDate::new(time);
        let headers = canonical::headers(request.headers);
        let query = self.auth_query.push_signed(
            out,
            request.query,
            &date,
            expires,
            headers.signed(),
            options.sign_session_token,
        );
        let (request_copy, string_copy) = match trace {
            Some(Trace {
                canonical_request,
                string_to_sign,
            }) => (Some(canonical_request), Some(string_to_sign)),
            None => (None, None),
        };
        let mut hashed = Tee::new(Sha256::new(), request_copy);
        canonical::write_request(
            &mut hashed,
            request.method,
            uri,
            &query,
            &headers,
            request.payload_hash,
        );
        let hash = hex_digest(&hashed.hash.finalize().into());
        let mut mac = self.mac_after_head(&date);
        Mac::update(&mut mac, &hash);
        let signature = hex_digest(&mac.finalize().into_bytes().into());
        if let Some(copy) = string_copy {
            string_to_sign::write(copy, &date, &self.region, &self.service, &hash);
        }
        AuthQuery::push_signature(out, sink::as_str(&signature));
        Ok(date)
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
            canonical::request(request.method, &uri, query, headers, request.payload_hash);
        let string_to_sign =
            string_to_sign::string_to_sign(date, &self.region, &self.service, &canonical_request);
        Trace {
            canonical_request,
            string_to_sign,
        }
    }

    /// The hex HMAC of `string_to_sign` under the day's signing key.
    fn signature(&self, date: &AmzDate, string_to_sign: &str) -> String {
        let mut mac = self.mac(date);
        Mac::update(&mut mac, string_to_sign.as_bytes());
        sink::as_str(&hex_digest(&mac.finalize().into_bytes().into())).to_owned()
    }

    /// [`Signer::mac`] with the string to sign's first lines already
    /// absorbed: one SHA-256 block fewer per signature.
    fn mac_after_head(&self, date: &AmzDate) -> HmacSha256 {
        let at: [u8; 16] = date.as_str().as_bytes().try_into().unwrap_or_default();
        self.head_absorbed.get_or(at, || {
            let mut mac = Tee::new(self.mac(date), None);
            string_to_sign::write_head(&mut mac, date, &self.region, &self.service);
            mac.hash
        })
    }

    pub(crate) fn mac(&self, date: &AmzDate) -> HmacSha256 {
        self.keys.mac_for(
            self.credentials.secret_access_key(),
            date.date(),
            &self.region,
            &self.service,
        )
    }
}

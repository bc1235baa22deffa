//! A bucket on an endpoint, and presigned requests for its objects.
//!
//! S3 limits worth knowing (<https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html>):
//! a presigned URL lives at most 7 days (604800 s), and a URL signed with
//! temporary credentials dies with them, whatever its `X-Amz-Expires`.

use super::endpoint::Endpoint;
use crate::sigv4::{
    canonical, encode, expiry, payload_hash, Credentials, InvalidExpiry, Request, Signer,
    SigningOptions, Trace, AUTH_PARAMETERS, UNSIGNED_PAYLOAD,
};
use std::fmt;
use time::OffsetDateTime;

/// How the bucket is named in a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressingStyle {
    /// `https://<bucket>.<endpoint-host>/<key>`: AWS's default.
    VirtualHosted,
    /// `<endpoint>/<bucket>/<key>`: MinIO, SeaweedFS, local stores.
    Path,
}

/// A bucket name that cannot be used in a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBucketName(String);

impl fmt::Display for InvalidBucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid bucket name {:?}: use 1 to 255 letters, digits, '.', '-' or '_'",
            self.0
        )
    }
}

impl std::error::Error for InvalidBucketName {}

/// Why [`Bucket::presign`] refused a request: each would make a URL that
/// S3 refuses or reads otherwise, with an error hard to trace back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresignError {
    /// The expiry is outside `1..=604800` seconds.
    Expiry(InvalidExpiry),
    /// A header that cannot be signed: `host`, which comes from the
    /// bucket's URL, or a name that is not an HTTP token.
    Header(String),
    /// A query parameter named like one of the signature's own `X-Amz-*`.
    QueryParameter(String),
    /// An access key id, region or service with a `/`, which would split
    /// the credential scope.
    Scope(String),
    /// A signer for another region than the bucket's: S3 answers
    /// `AuthorizationQueryParametersError`.
    Region {
        /// The bucket's region.
        bucket: String,
        /// The signer's region.
        signer: String,
    },
    /// A signer for another service than `s3`.
    Service(String),
    /// A method S3 does not know: one of [`METHODS`], in upper case.
    Method(String),
}

/// The methods of the S3 object and bucket requests, as they are written
/// on the wire.
pub const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "DELETE", "POST"];

impl fmt::Display for PresignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresignError::Expiry(e) => e.fmt(f),
            PresignError::Header(name) if name.eq_ignore_ascii_case("host") => {
                f.write_str("the Host header comes from the bucket's URL; do not give it")
            }
            PresignError::Header(name) => write!(f, "header name {name:?} is not an HTTP token"),
            PresignError::QueryParameter(name) => {
                write!(f, "query parameter {name:?} is reserved for the signature")
            }
            PresignError::Scope(part) => write!(
                f,
                "{part:?} contains '/', which would split the credential scope"
            ),
            PresignError::Region { bucket, signer } => write!(
                f,
                "the bucket is in region {bucket:?} but the signer signs for {signer:?}"
            ),
            PresignError::Service(service) => {
                write!(f, "the signer signs for service {service:?}, not \"s3\"")
            }
            PresignError::Method(method) => {
                write!(f, "method {method:?} is not one of {}", METHODS.join(", "))
            }
        }
    }
}

impl std::error::Error for PresignError {}

impl From<InvalidExpiry> for PresignError {
    fn from(e: InvalidExpiry) -> Self {
        PresignError::Expiry(e)
    }
}

/// One bucket of one S3 endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    endpoint: Endpoint,
    name: String,
    region: String,
    style: AddressingStyle,
    /// `scheme://host[:port]`, worked out once rather than for every URL.
    origin: String,
}

/// A request on an object (or, with an empty key, on the bucket itself).
#[derive(Debug, Clone, Copy)]
pub struct ObjectRequest<'a> {
    /// `GET`, `PUT`, `HEAD`, `DELETE`, `POST`.
    pub method: &'a str,
    /// The object key, raw: it is encoded here, exactly once.
    pub key: &'a str,
    /// Extra query parameters, raw (`("uploadId", Some(id))`,
    /// `("uploads", None)`).
    pub query: &'a [(&'a str, Option<&'a str>)],
    /// Headers to sign besides `host`, which the request must then carry
    /// with exactly these values (`content-type`, `content-length`, …).
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> ObjectRequest<'a> {
    /// A request with no extra query parameters or headers.
    pub fn new(method: &'a str, key: &'a str) -> Self {
        ObjectRequest {
            method,
            key,
            query: &[],
            headers: &[],
        }
    }
}

/// A request signed with an `Authorization` header ([`Bucket::sign`]), ready
/// to send.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// The method to use.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// Headers the request must carry, besides `Host` (the URL's authority).
    pub headers: Vec<(String, String)>,
    /// How the signature was computed.
    pub trace: Trace,
}

/// A presigned request and when it stops working. Method and headers are
/// the ones of the [`ObjectRequest`] it was made from.
#[derive(Debug, Clone)]
pub struct PresignedRequest<'a> {
    /// The method to use.
    pub method: &'a str,
    /// The full URL, with its signature.
    pub url: String,
    /// Headers the request must carry with exactly these values, besides
    /// `Host` (the URL's authority).
    pub headers: &'a [(&'a str, &'a str)],
    /// The end of the URL's validity.
    pub expires_at: OffsetDateTime,
}

impl Bucket {
    /// A bucket on `endpoint`. Virtual-hosted style is used when asked for
    /// and possible: an IP endpoint, a name that is not a DNS label, or a
    /// name with dots over https (its TLS certificate would not match) all
    /// fall back to path style.
    pub fn new(
        endpoint: Endpoint,
        name: impl Into<String>,
        region: impl Into<String>,
        style: AddressingStyle,
    ) -> Result<Self, InvalidBucketName> {
        let name = name.into();
        let valid = (1..=255).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(InvalidBucketName(name));
        }
        let dns_safe = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-'))
            && !name.starts_with(['.', '-'])
            && name.len() <= 63;
        let style = if style == AddressingStyle::VirtualHosted
            && dns_safe
            && !endpoint.is_ip()
            && !(endpoint.is_https() && name.contains('.'))
        {
            AddressingStyle::VirtualHosted
        } else {
            AddressingStyle::Path
        };
        let host = match style {
            AddressingStyle::VirtualHosted => {
                endpoint.authority(&format!("{name}.{}", endpoint.host()))
            }
            AddressingStyle::Path => endpoint.authority(endpoint.host()),
        };
        let origin = format!("{}://{host}", endpoint.scheme());
        Ok(Bucket {
            endpoint,
            name,
            region: region.into(),
            style,
            origin,
        })
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bucket's region: [`Bucket::presign`] and [`Bucket::presign_post`]
    /// refuse a [`Signer`] for any other (see [`Bucket::signer`]).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// A signer for this bucket's region and service `s3`: the one
    /// [`Bucket::presign`] accepts.
    pub fn signer(&self, credentials: Credentials) -> Signer {
        Signer::new(credentials, self.region.as_str(), "s3")
    }

    /// The endpoint, without the bucket.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The addressing style actually used.
    pub fn style(&self) -> AddressingStyle {
        self.style
    }

    /// The origin of this bucket's URLs (`https://bucket.s3.region.amazonaws.com`),
    /// e.g. for a Content-Security-Policy.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The `Host` header value.
    pub fn host(&self) -> String {
        self.host_str().to_owned()
    }

    fn host_str(&self) -> &str {
        let scheme = self.endpoint.scheme();
        &self.origin[scheme.len() + "://".len()..]
    }

    /// The encoded path of `key`: the key is encoded exactly once, `/` kept.
    pub fn path(&self, key: &str) -> String {
        let mut path = String::with_capacity(
            self.endpoint.base_path().len() + self.name.len() + key.len() + 16,
        );
        path.push_str(self.endpoint.base_path());
        if self.style == AddressingStyle::Path {
            path.push('/');
            path.push_str(&self.name);
            if key.is_empty() {
                return path;
            }
        }
        path.push('/');
        encode::encode_into(&mut path, key, encode::PATH);
        path
    }

    /// Presigns `request` at `time` for `expires` seconds (1..=604800).
    ///
    /// # Errors
    ///
    /// A [`PresignError`] for an expiry out of range, a method not in
    /// [`METHODS`], a `host` header or a header name that is not an HTTP
    /// token, a query parameter named like the signature's own, a `/` in the
    /// access key id, region or service, or a signer for another region
    /// than the bucket's or another service than `s3`.
    pub fn presign<'a>(
        &self,
        signer: &Signer,
        request: &ObjectRequest<'a>,
        time: OffsetDateTime,
        expires: u32,
    ) -> Result<PresignedRequest<'a>, PresignError> {
        self.presign_with(signer, request, time, expires, None)
    }

    /// [`Bucket::presign`], and how the signature was computed: what to
    /// compare with the `CanonicalRequest` and `StringToSign` of an S3
    /// `SignatureDoesNotMatch` answer.
    pub fn presign_traced<'a>(
        &self,
        signer: &Signer,
        request: &ObjectRequest<'a>,
        time: OffsetDateTime,
        expires: u32,
    ) -> Result<(PresignedRequest<'a>, Trace), PresignError> {
        let mut trace = Trace::default();
        let presigned = self.presign_with(signer, request, time, expires, Some(&mut trace))?;
        Ok((presigned, trace))
    }

    fn presign_with<'a>(
        &self,
        signer: &Signer,
        request: &ObjectRequest<'a>,
        time: OffsetDateTime,
        expires: u32,
        trace: Option<&mut Trace>,
    ) -> Result<PresignedRequest<'a>, PresignError> {
        // The request first: a bad header or parameter is named even when
        // the signer is wrong too.
        check(request)?;
        self.check_signer(signer)?;
        let path = self.path(request.key);
        let query = encode_query(request.query);
        // Host first, then the request's headers: on the stack when they
        // fit, as they nearly always do, since this runs for every upload.
        let mut on_stack = [("", ""); 8];
        let on_heap;
        let headers = match on_stack.get_mut(..=request.headers.len()) {
            Some(slots) => {
                slots[0] = ("host", self.host_str());
                slots[1..].copy_from_slice(request.headers);
                &*slots
            }
            None => {
                on_heap = with_host(self.host_str(), request.headers);
                &on_heap[..]
            }
        };
        let signable = Request {
            method: request.method,
            path: &path,
            query: &query,
            headers,
            payload_hash: UNSIGNED_PAYLOAD,
        };
        // Room for the authentication parameters, which the signer appends.
        let mut url = String::with_capacity(self.origin.len() + path.len() + query.len() + 512);
        url.push_str(&self.origin);
        url.push_str(&path);
        url.push('?');
        if !query.is_empty() {
            url.push_str(&query);
            url.push('&');
        }
        // S3 decodes the path and encodes it once: for a canonical base
        // path, the bucket and the key encoded once, that is the path itself.
        debug_assert_eq!(canonical::uri(&path, false, false), path);
        let signed_at = signer.presign_into(
            &mut url,
            &signable,
            &path,
            time,
            expires,
            SigningOptions::S3,
            trace,
        )?;
        Ok(PresignedRequest {
            method: request.method,
            url,
            headers: request.headers,
            // From the signing time as written in X-Amz-Date: whole seconds.
            expires_at: expiry(signed_at.time(), expires),
        })
    }

    /// Signs `request` with an `Authorization` header for a body `body`
    /// (the bucket set-up calls: create bucket, CORS, …).
    pub fn sign(
        &self,
        signer: &Signer,
        request: &ObjectRequest<'_>,
        body: &[u8],
        time: OffsetDateTime,
    ) -> SignedRequest {
        let path = self.path(request.key);
        let query = encode_query(request.query);
        let headers = with_host(self.host_str(), request.headers);
        let hash = payload_hash(body);
        let signable = Request {
            method: request.method,
            path: &path,
            query: &query,
            headers: &headers,
            payload_hash: &hash,
        };
        let signed = signer.sign_headers(&signable, time, SigningOptions::S3);
        let mut url = format!("{}{path}", self.origin);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let mut headers = owned(request.headers);
        headers.extend(signed.headers.into_iter().map(|(n, v)| (n.to_owned(), v)));
        SignedRequest {
            method: request.method.to_owned(),
            url,
            headers,
            trace: signed.trace,
        }
    }
}

impl Bucket {
    /// Refuses a signer whose credential scope S3 would not accept for this
    /// bucket: split by a `/`, or for another region or service.
    pub(crate) fn check_signer(&self, signer: &Signer) -> Result<(), PresignError> {
        if signer.splits_scope() {
            let scope = [
                signer.credentials().access_key_id(),
                signer.region(),
                signer.service(),
            ];
            let part = scope.iter().find(|part| part.contains('/'));
            return Err(PresignError::Scope(
                part.copied().unwrap_or_default().to_owned(),
            ));
        }
        if signer.region() != self.region {
            return Err(PresignError::Region {
                bucket: self.region.clone(),
                signer: signer.region().to_owned(),
            });
        }
        if signer.service() != "s3" {
            return Err(PresignError::Service(signer.service().to_owned()));
        }
        Ok(())
    }
}

/// Refuses a request that would make a URL no one accepts (see
/// [`PresignError`]).
fn check(request: &ObjectRequest<'_>) -> Result<(), PresignError> {
    if !METHODS.contains(&request.method) {
        return Err(PresignError::Method(request.method.to_owned()));
    }
    if let Some((name, _)) = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host") || !canonical::is_token(name))
    {
        return Err(PresignError::Header((*name).to_owned()));
    }
    let reserved = |name: &str| {
        AUTH_PARAMETERS
            .iter()
            .chain(&["X-Amz-Security-Token"])
            .any(|p| p.eq_ignore_ascii_case(name))
    };
    if let Some((name, _)) = request.query.iter().find(|(name, _)| reserved(name)) {
        return Err(PresignError::QueryParameter((*name).to_owned()));
    }
    Ok(())
}

fn with_host<'a>(host: &'a str, headers: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = Vec::with_capacity(headers.len() + 1);
    all.push(("host", host));
    all.extend_from_slice(headers);
    all
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|&(n, v)| (canonical::lower(n).into_owned(), v.to_owned()))
        .collect()
}

/// Wire form of raw parameters: strictly encoded, `name` alone when valueless.
fn encode_query(params: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode::component(name));
        if let Some(value) = value {
            out.push('=');
            out.push_str(&encode::component(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn bucket() -> Bucket {
        Bucket::new(
            Endpoint::aws("us-east-1"),
            "b",
            "us-east-1",
            AddressingStyle::Path,
        )
        .unwrap()
    }

    fn refusal(signer: &Signer, request: &ObjectRequest<'_>) -> PresignError {
        bucket()
            .presign(signer, request, datetime!(2026-11-29 0:00 UTC), 60)
            .unwrap_err()
    }

    #[test]
    fn refuses_what_would_make_a_url_no_one_accepts() {
        let signer = Signer::new(Credentials::new("AKID", "secret"), "us-east-1", "s3");
        for (name, expected) in [
            ("Host", "the Host header"),
            ("a b", "not an HTTP token"),
            ("", "header name \"\" is not an HTTP token"),
        ] {
            let headers = [(name, "v")];
            let request = ObjectRequest {
                headers: &headers,
                ..ObjectRequest::new("PUT", "k")
            };
            let e = refusal(&signer, &request);
            assert_eq!(e, PresignError::Header(name.to_owned()));
            assert!(e.to_string().contains(expected), "{e}");
        }
        for name in ["X-Amz-Date", "x-amz-signature", "X-Amz-Security-Token"] {
            let query = [(name, Some("1"))];
            let request = ObjectRequest {
                query: &query,
                ..ObjectRequest::new("GET", "k")
            };
            assert_eq!(
                refusal(&signer, &request),
                PresignError::QueryParameter(name.to_owned())
            );
        }
        let split = Signer::new(Credentials::new("AK/ID", "secret"), "us-east-1", "s3");
        let e = refusal(&split, &ObjectRequest::new("GET", "k"));
        assert_eq!(e, PresignError::Scope("AK/ID".to_owned()));
        let get = ObjectRequest::new("GET", "k");
        let e = bucket()
            .presign(&signer, &get, datetime!(2026-11-29 0:00 UTC), 604_801)
            .unwrap_err();
        assert!(
            matches!(&e, PresignError::Expiry(expiry) if expiry.seconds() == 604_801),
            "{e:?}"
        );
    }

    #[test]
    fn refuses_a_signer_for_another_region_or_service() {
        let get = ObjectRequest::new("GET", "k");
        let west = Bucket::new(
            Endpoint::aws("eu-west-1"),
            "b",
            "eu-west-1",
            AddressingStyle::Path,
        )
        .unwrap();
        let east = Signer::new(Credentials::new("AKID", "secret"), "us-east-1", "s3");
        let e = west
            .presign(&east, &get, datetime!(2026-11-29 0:00 UTC), 60)
            .unwrap_err();
        assert_eq!(
            e,
            PresignError::Region {
                bucket: "eu-west-1".to_owned(),
                signer: "us-east-1".to_owned()
            }
        );
        assert!(e.to_string().contains("\"eu-west-1\""), "{e}");
        let own = west.signer(Credentials::new("AKID", "secret"));
        assert_eq!(own.region(), "eu-west-1");
        assert_eq!(own.service(), "s3");
        let url = west
            .presign(&own, &get, datetime!(2026-11-29 0:00 UTC), 60)
            .unwrap()
            .url;
        assert!(url.contains("%2Feu-west-1%2Fs3%2Faws4_request"), "{url}");

        let sts = Signer::new(Credentials::new("AKID", "secret"), "us-east-1", "sts");
        assert_eq!(refusal(&sts, &get), PresignError::Service("sts".to_owned()));
    }

    #[test]
    fn refuses_a_method_s3_does_not_know() {
        let signer = Signer::new(Credentials::new("AKID", "secret"), "us-east-1", "s3");
        for method in ["Put", "get", "PATCH", ""] {
            let e = refusal(&signer, &ObjectRequest::new(method, "k"));
            assert_eq!(e, PresignError::Method(method.to_owned()));
            assert!(
                e.to_string().contains("GET, PUT, HEAD, DELETE, POST"),
                "{e}"
            );
        }
        for method in METHODS {
            let request = ObjectRequest::new(method, "k");
            assert!(bucket()
                .presign(&signer, &request, datetime!(2026-11-29 0:00 UTC), 60)
                .is_ok());
        }
    }
}

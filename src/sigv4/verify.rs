//! Checking a presigned request, the way S3 does.
//!
//! The order of the checks follows what a client most needs to hear: a
//! malformed URL first, then an unknown key, then time, then the signature.

use super::amz_date::AmzDate;
use super::canonical;
use super::constants::{ALGORITHM, MAX_EXPIRES};
use super::encode;
use super::sign::{expiry, Request, Signer, SigningOptions, Trace};
use super::string_to_sign::string_to_sign;
use hmac::Mac;
use std::fmt;
use time::{Duration, OffsetDateTime};

/// A request as a server received it: the same fields as a request to
/// sign, with the path and query exactly as they came off the wire and all
/// headers (only the signed ones are read).
pub type Received<'a> = Request<'a>;

/// The query parameters a presigned request must carry, each once.
pub const AUTH_PARAMETERS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

/// What a valid presigned request was signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Who signed it.
    pub access_key_id: String,
    /// The signed header names, lower case.
    pub signed_headers: Vec<String>,
    /// When the signature stops being valid.
    pub expires_at: OffsetDateTime,
}

/// Settings of the verifier.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// How far in the future `X-Amz-Date` may be (S3: 15 minutes).
    pub max_clock_skew: Duration,
    /// Canonicalisation rules (S3: [`SigningOptions::S3`]).
    pub signing: SigningOptions,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            max_clock_skew: Duration::minutes(15),
            signing: SigningOptions::S3,
        }
    }
}

/// Which check failed; each maps to an S3 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// A missing, repeated or malformed `X-Amz-*` parameter, or a wrong
    /// scope: `AuthorizationQueryParametersError`.
    MalformedQuery,
    /// No secret is known for the access key: `InvalidAccessKeyId`.
    UnknownAccessKey,
    /// Past `X-Amz-Date + X-Amz-Expires`: `AccessDenied`.
    Expired,
    /// `X-Amz-Date` further in the future than the allowed skew: `AccessDenied`.
    NotYetValid,
    /// The request differs from what was signed: `SignatureDoesNotMatch`.
    SignatureMismatch,
}

/// Why a presigned request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    kind: VerifyErrorKind,
    message: String,
    trace: Option<Box<Trace>>,
}

impl VerifyError {
    fn new(kind: VerifyErrorKind, message: impl Into<String>) -> Self {
        VerifyError {
            kind,
            message: message.into(),
            trace: None,
        }
    }

    /// Which check failed.
    pub fn kind(&self) -> VerifyErrorKind {
        self.kind
    }

    /// The S3 error code for this failure.
    pub fn s3_code(&self) -> &'static str {
        match self.kind {
            VerifyErrorKind::MalformedQuery => "AuthorizationQueryParametersError",
            VerifyErrorKind::UnknownAccessKey => "InvalidAccessKeyId",
            VerifyErrorKind::Expired | VerifyErrorKind::NotYetValid => "AccessDenied",
            VerifyErrorKind::SignatureMismatch => "SignatureDoesNotMatch",
        }
    }

    /// A sentence for the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// On a signature mismatch: the canonical request and string to sign the
    /// verifier computed, for the client to compare with its own.
    pub fn trace(&self) -> Option<&Trace> {
        self.trace.as_deref()
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.s3_code(), self.message)
    }
}

impl std::error::Error for VerifyError {}

/// The `X-Amz-*` parameters of a presigned request, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedParams {
    /// Access key id from `X-Amz-Credential`.
    pub access_key_id: String,
    /// The scope's date, `YYYYMMDD`.
    pub scope_date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service.
    pub service: String,
    /// `X-Amz-Date`.
    pub date: AmzDate,
    /// `X-Amz-Expires`, seconds.
    pub expires: u32,
    /// `X-Amz-SignedHeaders`, split on `;`.
    pub signed_headers: Vec<String>,
    /// `X-Amz-Signature`.
    pub signature: String,
}

impl PresignedParams {
    /// Reads and checks the form of the `X-Amz-*` parameters of `query`.
    pub fn parse(query: &str) -> Result<Self, VerifyError> {
        let mut found: [Option<String>; 6] = Default::default();
        for (name, value) in canonical::query_pairs(query) {
            if let Some(i) = AUTH_PARAMETERS.iter().position(|n| *n == name) {
                if found[i].is_some() {
                    return Err(malformed(format!("{name} is given more than once.")));
                }
                found[i] = Some(String::from_utf8_lossy(&encode::decode(value)).into_owned());
            }
        }
        let [Some(algorithm), Some(credential), Some(date), Some(expires), Some(signed), Some(signature)] =
            found
        else {
            return Err(malformed(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, \
                 X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
            ));
        };
        if algorithm != ALGORITHM {
            return Err(malformed(format!(
                "X-Amz-Algorithm only supports \"{ALGORITHM}\"."
            )));
        }
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, scope_date, region, service, "aws4_request"] = parts[..] else {
            return Err(malformed(
                "Error parsing the X-Amz-Credential parameter; it must be \
                 <access key id>/<YYYYMMDD>/<region>/<service>/aws4_request.",
            ));
        };
        let date = AmzDate::parse(&date).ok_or_else(|| {
            malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
        })?;
        if scope_date != date.date() {
            return Err(malformed(
                "Error parsing the X-Amz-Credential parameter; the date is not the same as X-Amz-Date.",
            ));
        }
        let expires = expires
            .parse::<u32>()
            .ok()
            .filter(|e| (1..=MAX_EXPIRES).contains(e))
            .ok_or_else(|| {
                malformed(format!(
                    "X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES}."
                ))
            })?;
        let signed_headers: Vec<String> = signed.split(';').map(str::to_owned).collect();
        if !signed_headers.iter().any(|h| h == "host") {
            return Err(malformed("X-Amz-SignedHeaders must include host."));
        }
        Ok(PresignedParams {
            access_key_id: access_key_id.to_owned(),
            scope_date: scope_date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            date,
            expires,
            signed_headers,
            signature,
        })
    }

    /// When the signature stops being valid (see [`expiry`]).
    pub fn expires_at(&self) -> OffsetDateTime {
        expiry(self.date.time(), self.expires)
    }

    /// Rebuilds the canonical request and string to sign of `request` from
    /// these parameters, with no secret involved.
    pub fn trace(
        &self,
        request: &Received<'_>,
        options: SigningOptions,
    ) -> Result<Trace, VerifyError> {
        let mut signed = Vec::with_capacity(self.signed_headers.len());
        for name in &self.signed_headers {
            let before = signed.len();
            signed.extend(
                request
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|&(_, v)| (name.as_str(), v)),
            );
            if signed.len() == before {
                return Err(VerifyError::new(
                    VerifyErrorKind::SignatureMismatch,
                    format!("The header '{name}' is signed but missing from the request."),
                ));
            }
        }
        let headers = canonical::headers(&signed);
        // A token added after signing (as some STS flows do) is not signed.
        let query = canonical::query(request.query, "", |name| {
            name == "X-Amz-Signature"
                || (!options.sign_session_token && name == "X-Amz-Security-Token")
        });
        let uri = canonical::uri(
            request.path,
            options.normalize_path,
            options.double_encode_path,
        );
        let canonical_request =
            canonical::request(request.method, &uri, &query, &headers, request.payload_hash);
        // `parse` made sure the scope's date is the date of `X-Amz-Date`.
        let string_to_sign =
            string_to_sign(&self.date, &self.region, &self.service, &canonical_request);
        Ok(Trace {
            canonical_request,
            string_to_sign,
        })
    }
}

fn malformed(message: impl Into<String>) -> VerifyError {
    VerifyError::new(VerifyErrorKind::MalformedQuery, message)
}

/// Verifies a presigned request received at `now`.
///
/// `signer_for` looks up the signer (and so the secret, region and service)
/// for the request's access key id.
pub fn verify_presigned<'s>(
    request: &Received<'_>,
    now: OffsetDateTime,
    options: VerifyOptions,
    signer_for: impl FnOnce(&str) -> Option<&'s Signer>,
) -> Result<Verified, VerifyError> {
    let params = PresignedParams::parse(request.query)?;
    let signer = signer_for(&params.access_key_id).ok_or_else(|| {
        VerifyError::new(
            VerifyErrorKind::UnknownAccessKey,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    })?;
    if params.region != signer.region() {
        return Err(malformed(format!(
            "Error parsing the X-Amz-Credential parameter; the region '{}' is wrong; expecting '{}'.",
            params.region,
            signer.region()
        )));
    }
    if params.service != signer.service() {
        return Err(malformed(format!(
            "Error parsing the X-Amz-Credential parameter; incorrect service '{}'. This endpoint belongs to '{}'.",
            params.service,
            signer.service()
        )));
    }
    if params.date.time() - options.max_clock_skew > now {
        return Err(VerifyError::new(
            VerifyErrorKind::NotYetValid,
            "Request is not valid yet",
        ));
    }
    let expires_at = params.expires_at();
    if now > expires_at {
        return Err(VerifyError::new(
            VerifyErrorKind::Expired,
            "Request has expired",
        ));
    }
    let trace = params.trace(request, options.signing)?;
    let mut mac = signer.mac(&params.date);
    mac.update(trace.string_to_sign.as_bytes());
    let matches = hex::decode(&params.signature)
        .map(|given| mac.verify_slice(&given).is_ok())
        .unwrap_or(false);
    if !matches {
        return Err(VerifyError {
            kind: VerifyErrorKind::SignatureMismatch,
            message:
                "The request signature we calculated does not match the signature you provided. \
                      Check your key and signing method."
                    .to_owned(),
            trace: Some(Box::new(trace)),
        });
    }
    Ok(Verified {
        access_key_id: params.access_key_id,
        signed_headers: params.signed_headers,
        expires_at,
    })
}

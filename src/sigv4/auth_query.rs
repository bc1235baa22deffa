//! The query form of a presigned request: the `X-Amz-*` parameters,
//! written for every upload URL, and where the session token goes.
//! Whatever depends on the signer alone is encoded once, up front.

use super::amz_date::AmzDate;
use super::canonical;
use super::constants::{ALGORITHM, HEX_DIGEST_LEN};
use super::credentials::Credentials;
use super::encode;
use std::borrow::Cow;
use std::fmt;

/// Bytes of the parameters besides the signer's share and the signed header
/// names: the scope's date, the value of `X-Amz-Date`, then `X-Amz-Expires`
/// (the longest), `X-Amz-SignedHeaders` and `X-Amz-Signature`.
const PER_URL_LEN: usize = 8 + 16 + (15 + 6) + 21 + (17 + HEX_DIGEST_LEN);

/// The signer's share of every presigned query, already encoded.
#[derive(Clone)]
pub(crate) struct AuthQuery {
    /// `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<key id>%2F`.
    head: String,
    /// `%2F<region>%2F<service>%2Faws4_request&X-Amz-Date=`.
    scope: String,
    /// `&X-Amz-Security-Token=<token>`, with temporary credentials.
    token: Option<String>,
}

impl AuthQuery {
    pub(crate) fn new(credentials: &Credentials, region: &str, service: &str) -> Self {
        let mut head = String::from("X-Amz-Algorithm=");
        head.push_str(ALGORITHM);
        head.push_str("&X-Amz-Credential=");
        encode::encode_into(&mut head, credentials.access_key_id(), encode::COMPONENT);
        head.push_str("%2F");
        let mut scope = String::from("%2F");
        encode::encode_into(&mut scope, region, encode::COMPONENT);
        scope.push_str("%2F");
        encode::encode_into(&mut scope, service, encode::COMPONENT);
        scope.push_str("%2Faws4_request&X-Amz-Date=");
        let token = credentials.session_token().map(|token| {
            let mut out = String::from("&X-Amz-Security-Token=");
            encode::encode_into(&mut out, token, encode::COMPONENT);
            out
        });
        AuthQuery { head, scope, token }
    }

    /// Whether there is a session token to add.
    pub(crate) fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Appends every parameter but the signature, in the order they travel
    /// (the token, if any, last), and returns the canonical query the
    /// signature covers: `request_query` (the request's own, as sent) and
    /// these parameters, the token among them only if `sign_token`
    /// ([`super::SigningOptions::sign_session_token`]).
    pub(crate) fn push_signed<'o>(
        &self,
        out: &'o mut String,
        request_query: &str,
        date: &AmzDate,
        expires: u32,
        signed_headers: &str,
        sign_token: bool,
    ) -> Cow<'o, str> {
        out.reserve(
            self.head.len()
                + self.scope.len()
                + self.token.as_ref().map_or(0, String::len)
                + PER_URL_LEN
                + 3 * signed_headers.len(),
        );
        let start = out.len();
        let date = date.as_str();
        out.push_str(&self.head);
        out.push_str(&date[..8]);
        out.push_str(&self.scope);
        out.push_str(date);
        out.push_str("&X-Amz-Expires=");
        push_decimal(out, expires);
        out.push_str("&X-Amz-SignedHeaders=");
        encode::encode_into(out, signed_headers, encode::COMPONENT);
        let token_signed = sign_token && self.has_token();
        let mut signed_end = out.len();
        if let Some(token) = &self.token {
            out.push_str(token);
            if token_signed {
                signed_end = out.len();
            }
        }
        let signed = &out[start..signed_end];
        // Written in canonical order but for the token (which sorts before
        // X-Amz-SignedHeaders): only a signed token or a query of the
        // request's own makes the canonical query differ from them.
        if request_query.is_empty() && !token_signed {
            Cow::Borrowed(signed)
        } else {
            Cow::Owned(canonical::query(request_query, signed, |_| false))
        }
    }

    /// Appends the last parameter, `X-Amz-Signature`.
    pub(crate) fn push_signature(out: &mut String, signature: &str) {
        out.push_str("&X-Amz-Signature=");
        out.push_str(signature);
    }
}

impl fmt::Debug for AuthQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The encoded token is as secret as the token.
        f.write_str("AuthQuery(<redacted>)")
    }
}

/// Appends `n` in decimal, without the formatting machinery.
fn push_decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_in_full() {
        for n in [0, 7, 10, 900, 86_400, 604_800, u32::MAX] {
            let mut out = String::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let credentials = Credentials::new("AKID", "secret").with_session_token("token-value");
        let query = AuthQuery::new(&credentials, "us-east-1", "s3");
        assert!(query.has_token());
        assert!(!format!("{query:?}").contains("token-value"));
    }
}

//! The JSON the credential providers answer with, and its RFC 3339 times.
//!
//! ECS, EKS Pod Identity and IMDS send `AccessKeyId`, `SecretAccessKey`,
//! `Token` and `Expiration`; `credential_process` prints `Version: 1`,
//! `SessionToken` and an optional `Expiration`. Keys match regardless of
//! case, as in aws-sdk-rust. An error says which field is wrong, never a
//! value.

use super::Fetched;
use crate::sigv4::json::{self, Value};
use crate::sigv4::Credentials;
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// A parsed JSON object.
pub struct Document(Vec<(String, Value)>);

impl Document {
    /// Parses `body` as a JSON object.
    pub fn parse(body: &[u8]) -> Result<Document, String> {
        let text = std::str::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())?;
        match json::parse(text) {
            Ok(Value::Object(fields)) => Ok(Document(fields)),
            _ => Err("the answer is not a JSON object".into()),
        }
    }

    /// A string field, its name matched regardless of case.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.0.iter().find_map(|(key, value)| match value {
            Value::String(s) if key.eq_ignore_ascii_case(name) => Some(s.as_str()),
            _ => None,
        })
    }

    /// A numeric field, as written.
    pub fn number(&self, name: &str) -> Option<&str> {
        self.0.iter().find_map(|(key, value)| match value {
            Value::Number(n) if key.eq_ignore_ascii_case(name) => Some(n.as_str()),
            _ => None,
        })
    }

    /// The credentials in it. `token` names the session-token field;
    /// `Expiration` is required unless `expiration_optional`.
    pub fn credentials(&self, token: &str, expiration_optional: bool) -> Result<Fetched, String> {
        let field = |name: &str| {
            self.string(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("the answer has no {name}"))
        };
        let mut credentials = Credentials::new(field("AccessKeyId")?, field("SecretAccessKey")?);
        match self.string(token).filter(|t| !t.is_empty()) {
            Some(token) => credentials = credentials.with_session_token(token),
            None if expiration_optional => {}
            None => return Err(format!("the answer has no {token}")),
        }
        let expires = match self.string("Expiration") {
            Some(raw) => Some(
                parse_rfc3339(raw)
                    .ok_or_else(|| format!("Expiration {raw:?} is not an RFC 3339 time"))?,
            ),
            None if expiration_optional => None,
            None => return Err("the answer has no Expiration".into()),
        };
        Ok(Fetched {
            credentials,
            expires,
        })
    }
}

/// `2026-11-29T05:10:00Z`, `…T05:10:00.123456789Z`, `…T05:10:00+02:00`.
pub fn parse_rfc3339(raw: &str) -> Option<OffsetDateTime> {
    let number = |s: &str| -> Option<u32> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let b = raw.as_bytes();
    // The fixed-width part is ASCII, so every slice below falls on a
    // character boundary, whatever the document sent.
    if b.len() < 20
        || !b[..19].is_ascii()
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
    {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = Date::from_calendar_date(
        number(&raw[0..4])? as i32,
        Month::try_from(number(&raw[5..7])? as u8).ok()?,
        number(&raw[8..10])? as u8,
    )
    .ok()?;
    let mut rest = &raw[19..];
    let mut nanos = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &fraction[..digits.min(9)];
        nanos = number(kept)? * 10u32.pow(9 - kept.len() as u32);
        rest = &fraction[digits..];
    }
    let time = Time::from_hms_nano(
        number(&raw[11..13])? as u8,
        number(&raw[14..16])? as u8,
        number(&raw[17..19])? as u8,
        nanos,
    )
    .ok()?;
    let offset = match rest {
        "Z" | "z" => UtcOffset::UTC,
        _ => {
            let (sign, hm) = match rest.as_bytes().first()? {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return None,
            };
            let (h, m) = hm.split_once(':')?;
            if h.len() != 2 || m.len() != 2 {
                return None;
            }
            UtcOffset::from_hms(sign * number(h)? as i8, sign * number(m)? as i8, 0).ok()?
        }
    };
    // In UTC from here on: banners, logs and errors print it with a `Z`.
    date.with_time(time)
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_whole_fractional_and_offsets() {
        let t = parse_rfc3339("2026-11-29T05:10:00Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_795_929_000);
        let f = parse_rfc3339("2026-11-29T05:10:00.123456789123Z").unwrap();
        assert_eq!(f.nanosecond(), 123_456_789);
        assert_eq!(f.unix_timestamp(), t.unix_timestamp());
        let o = parse_rfc3339("2026-11-29T07:10:00+02:00").unwrap();
        assert_eq!(o, t);
        assert_eq!(o.offset(), UtcOffset::UTC, "kept in UTC");
        assert_eq!(o.hour(), 5);
        for bad in [
            "2026-11-29",
            "2026-11-29T05:10:00",
            "2026-13-29T05:10:00Z",
            "2026-11-29T05:10:00.Z",
            "2026-11-29T05:10:00+2:00",
            "2026-11-29T05:10:00ZZ",
            "2026-11-29T05:10:0\u{e9}Z",
            "2026-11-29T05:10:00\u{e9}",
            "\u{e9}026-11-29T05:10:00Z",
            "9999-12-31T23:59:59-23:59",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad}");
        }
    }
}

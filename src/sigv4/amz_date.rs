//! The `X-Amz-Date` timestamp: `YYYYMMDD'T'HHMMSS'Z'`, always UTC.

use std::fmt;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A signing time in the compact ISO 8601 form SigV4 uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AmzDate {
    text: [u8; 16],
    time: OffsetDateTime,
}

impl AmzDate {
    /// The timestamp for `time`, converted to UTC; sub-second parts dropped.
    pub fn new(time: OffsetDateTime) -> Self {
        let t = time.to_offset(UtcOffset::UTC);
        let t = t.replace_nanosecond(0).unwrap_or(t);
        let (year, month, day) = t.to_calendar_date();
        let (hour, minute, second) = t.to_hms();
        let mut text = *b"00000000T000000Z";
        write_digits(&mut text[0..4], year.clamp(0, 9999) as u32);
        write_digits(&mut text[4..6], u8::from(month) as u32);
        write_digits(&mut text[6..8], day as u32);
        write_digits(&mut text[9..11], hour as u32);
        write_digits(&mut text[11..13], minute as u32);
        write_digits(&mut text[13..15], second as u32);
        AmzDate { text, time: t }
    }

    /// Parses `20150830T123600Z`. Anything else (other lengths, offsets,
    /// separators, impossible dates) is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let month = Month::try_from(num(4..6)? as u8).ok()?;
        let date = Date::from_calendar_date(num(0..4)? as i32, month, num(6..8)? as u8).ok()?;
        let clock =
            Time::from_hms(num(9..11)? as u8, num(11..13)? as u8, num(13..15)? as u8).ok()?;
        Some(Self::new(PrimitiveDateTime::new(date, clock).assume_utc()))
    }

    /// `20150830T123600Z`.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, 'T' and 'Z' are ever written.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// The date part, `20150830`, as used in the credential scope.
    pub fn date(&self) -> &str {
        &self.as_str()[..8]
    }

    /// The same instant as a `time` value.
    pub fn time(&self) -> OffsetDateTime {
        self.time
    }
}

fn write_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AmzDate({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let d = AmzDate::parse("20150830T123600Z").unwrap();
        assert_eq!(d.as_str(), "20150830T123600Z");
        assert_eq!(d.date(), "20150830");
        assert_eq!(AmzDate::new(d.time()), d);
    }

    #[test]
    fn converts_to_utc() {
        let t = AmzDate::parse("20150830T123600Z").unwrap().time();
        let shifted = t.to_offset(UtcOffset::from_hms(5, 30, 0).unwrap());
        assert_eq!(AmzDate::new(shifted).as_str(), "20150830T123600Z");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T256000Z",
            "2015083xT123600Z",
            "+0150830T123600Z",
        ] {
            assert!(AmzDate::parse(bad).is_none(), "{bad}");
        }
    }
}

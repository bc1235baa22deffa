//! Region names. A region names a host (`s3.<region>.amazonaws.com`), is
//! part of the credential scope and goes into JSON: anything but a region
//! name would make a URL no store accepts, or worse.

use std::fmt;

/// A region name that is not one: it must be lower-case ASCII letters,
/// digits and `-`, and not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRegion(String);

impl InvalidRegion {
    /// Refuses anything but lower-case ASCII letters, digits and `-`
    /// (`eu-west-1`, `us-gov-west-1`, MinIO's `us-east-1`): the one rule
    /// for the server's configuration and the command line alike.
    pub fn check(region: &str) -> Result<(), InvalidRegion> {
        let valid = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(())
        } else {
            Err(InvalidRegion(region.to_owned()))
        }
    }
}

impl fmt::Display for InvalidRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a region name: lower-case letters, digits and '-' only (e.g. eu-west-1)",
            self.0
        )
    }
}

impl std::error::Error for InvalidRegion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lower_case_letters_digits_and_dashes() {
        for good in ["us-east-1", "eu-west-1", "us-gov-west-1", "auto", "a"] {
            assert_eq!(InvalidRegion::check(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Bad Region",
            "EU-WEST-1",
            "eu_west_1",
            "a/b",
            "x.evil#",
            "é",
        ] {
            let e = InvalidRegion::check(bad).unwrap_err();
            assert!(e
                .to_string()
                .starts_with(&format!("{bad:?} is not a region name")));
        }
    }
}

//! `application/x-www-form-urlencoded` bodies.

use std::borrow::Cow;

/// The fields of a form, in order, decoded.
#[derive(Debug, Default)]
pub struct Form<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl Form<'_> {
    /// The value of field `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// Parses a form body. `+` is a space here (unlike in SigV4 queries).
/// A repeated field or invalid UTF-8 is an error, named in the message.
pub fn parse(body: &[u8]) -> Result<Form<'_>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the form is not UTF-8".to_owned())?;
    let mut form = Form::default();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name).ok_or("a field name is not valid percent-encoded UTF-8")?;
        let value = decode(value)
            .ok_or_else(|| format!("field '{name}' is not valid percent-encoded UTF-8"))?;
        if form.get(&name).is_some() {
            return Err(format!("field '{name}' is given more than once"));
        }
        form.0.push((name, value));
    }
    Ok(form)
}

/// Decodes `+` and `%XX`, borrowing when there is nothing to decode.
fn decode(raw: &str) -> Option<Cow<'_, str>> {
    let spaced: Cow<'_, str> = if raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    match spaced {
        Cow::Borrowed(raw) => percent_encoding::percent_decode_str(raw).decode_utf8().ok(),
        Cow::Owned(raw) => percent_encoding::percent_decode_str(&raw)
            .decode_utf8()
            .ok()
            .map(|s| Cow::Owned(s.into_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let f = parse(b"filename=my+photo%21.png&type=image%2Fpng&size=12").unwrap();
        assert_eq!(f.get("filename"), Some("my photo!.png"));
        assert_eq!(f.get("type"), Some("image/png"));
        assert_eq!(f.get("size"), Some("12"));
    }

    #[test]
    fn refuses_duplicates_and_bad_utf8() {
        assert!(parse(b"a=1&a=2").unwrap_err().contains("'a'"));
        assert!(parse(b"a=%FF").is_err());
        assert!(parse(&[0xff]).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// `text` as a browser encodes it: `*-._` and alphanumerics as they
    /// are, space as `+`, every other byte `%XX`.
    fn encode(text: &str) -> String {
        let mut out = String::new();
        for b in text.bytes() {
            match b {
                b' ' => out.push('+'),
                b'*' | b'-' | b'.' | b'_' => out.push(char::from(b)),
                b if b.is_ascii_alphanumeric() => out.push(char::from(b)),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn encoded_fields_come_back_as_they_were(
            fields in proptest::collection::btree_map(".{0,12}", ".{0,40}", 0..6),
        ) {
            let body: Vec<String> = fields
                .iter()
                .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
                .collect();
            let body = body.join("&");
            let form = parse(body.as_bytes()).unwrap();
            for (name, value) in &fields {
                prop_assert_eq!(form.get(name), Some(value.as_str()));
            }
        }

        #[test]
        fn any_bytes_parse_or_are_refused_without_panic(
            body in proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(b'%'), Just(b'&'), Just(b'='), Just(b'+')],
                0..200),
        ) {
            if let Ok(form) = parse(&body) {
                // Never two fields of one name: the first would hide the other.
                for (i, (name, _)) in form.0.iter().enumerate() {
                    prop_assert!(form.0[..i].iter().all(|(n, _)| n != name));
                }
            }
        }
    }
}

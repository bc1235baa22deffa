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

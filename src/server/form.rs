//! `application/x-www-form-urlencoded` bodies.

use std::collections::HashMap;

/// Parses a form body. `+` is a space here (unlike in SigV4 queries).
/// A repeated field or invalid UTF-8 is an error, named in the message.
pub fn parse(body: &[u8]) -> Result<HashMap<String, String>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the form is not UTF-8".to_owned())?;
    let mut fields = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name).ok_or("a field name is not valid percent-encoded UTF-8")?;
        let value = decode(value)
            .ok_or_else(|| format!("field '{name}' is not valid percent-encoded UTF-8"))?;
        if fields.insert(name.clone(), value).is_some() {
            return Err(format!("field '{name}' is given more than once"));
        }
    }
    Ok(fields)
}

fn decode(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let f = parse(b"filename=my+photo%21.png&type=image%2Fpng&size=12").unwrap();
        assert_eq!(f["filename"], "my photo!.png");
        assert_eq!(f["type"], "image/png");
        assert_eq!(f["size"], "12");
    }

    #[test]
    fn refuses_duplicates_and_bad_utf8() {
        assert!(parse(b"a=1&a=2").unwrap_err().contains("'a'"));
        assert!(parse(b"a=%FF").is_err());
        assert!(parse(&[0xff]).is_err());
    }
}

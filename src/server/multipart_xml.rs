//! The XML of the local bucket's multipart calls: the
//! `<CompleteMultipartUpload>` body it reads, and the results it writes,
//! as S3 spells them.

use super::http::xml_escape;

/// S3's namespace, on every result's root.
const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The parts a `<CompleteMultipartUpload>` body lists, in its order:
/// part number and ETag (quotes removed). `None` if the body is not such a
/// document, or a part lacks a number or an ETag.
pub fn parse_complete(body: &str) -> Option<Vec<(u64, String)>> {
    let mut rest = skip_prolog(body);
    rest = rest.strip_prefix("<CompleteMultipartUpload")?;
    if !rest.starts_with(['>', ' ', '\t', '\r', '\n']) {
        return None;
    }
    let end = rest.rfind("</CompleteMultipartUpload>")?;
    if !rest[end + "</CompleteMultipartUpload>".len()..]
        .trim()
        .is_empty()
    {
        return None;
    }
    let mut inner = &rest[rest.find('>')? + 1..end];
    let mut parts = Vec::new();
    loop {
        inner = inner.trim_start();
        if inner.is_empty() {
            return Some(parts);
        }
        inner = inner.strip_prefix("<Part>")?;
        let close = inner.find("</Part>")?;
        let part = &inner[..close];
        let number = element(part, "PartNumber")?.trim();
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let etag = unescape(element(part, "ETag")?.trim())?;
        let etag = etag.trim_matches('"').to_ascii_lowercase();
        parts.push((number.parse().ok()?, etag));
        inner = &inner[close + "</Part>".len()..];
    }
}

/// Skips `<?xml …?>` and whitespace.
fn skip_prolog(body: &str) -> &str {
    let body = body.trim_start_matches('\u{feff}').trim_start();
    match body.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(body, |i| rest[i + 2..].trim_start()),
        None => body,
    }
}

/// The text of the one `<name>` element in `xml`, if there is exactly one.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    if xml[end..].contains(&open) {
        return None;
    }
    Some(&xml[start..end])
}

/// XML's five entities and numeric quotes; `None` for any other `&`.
fn unescape(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';')? + i;
        out.push(match &rest[i + 1..end] {
            "quot" | "#34" | "#x22" => '"',
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "apos" => '\'',
            _ => return None,
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `<InitiateMultipartUploadResult>`.
pub fn initiated(bucket: &str, key: &str, upload_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"{XMLNS}\">\
         <Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>",
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(upload_id)
    )
}

/// `<CompleteMultipartUploadResult>`.
pub fn completed(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"{XMLNS}\">\
         <Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        xml_escape(location),
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(&format!("\"{etag}\""))
    )
}

/// One part in a `<ListPartsResult>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPart {
    /// Its number.
    pub number: u64,
    /// Its ETag, without quotes.
    pub etag: String,
    /// Its length.
    pub size: u64,
    /// When it was stored, `2026-12-02T21:00:00.000Z`.
    pub last_modified: String,
}

/// The page of a `<ListPartsResult>`.
#[derive(Debug)]
pub struct PartsPage<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The object key.
    pub key: &'a str,
    /// The upload.
    pub upload_id: &'a str,
    /// `part-number-marker` as asked.
    pub marker: u64,
    /// `max-parts` as applied.
    pub max_parts: usize,
    /// Whether more parts follow this page.
    pub truncated: bool,
    /// The parts of this page, by number.
    pub parts: &'a [ListedPart],
}

/// `<ListPartsResult>`.
pub fn listed(page: &PartsPage<'_>) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListPartsResult xmlns=\"{XMLNS}\">\
         <Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId>\
         <PartNumberMarker>{}</PartNumberMarker><NextPartNumberMarker>{}</NextPartNumberMarker>\
         <MaxParts>{}</MaxParts><IsTruncated>{}</IsTruncated>",
        xml_escape(page.bucket),
        xml_escape(page.key),
        xml_escape(page.upload_id),
        page.marker,
        page.parts.last().map_or(page.marker, |p| p.number),
        page.max_parts,
        page.truncated
    );
    for part in page.parts {
        out.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><LastModified>{}</LastModified>\
             <ETag>&quot;{}&quot;</ETag><Size>{}</Size></Part>",
            part.number,
            part.last_modified,
            xml_escape(&part.etag),
            part.size
        ));
    }
    out.push_str("</ListPartsResult>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_bodies_as_browsers_and_sdks_write_them() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
            <CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n\
            <Part><PartNumber>1</PartNumber><ETag>&quot;AB12&quot;</ETag></Part>\n\
            <Part><ETag>\"cd34\"</ETag><PartNumber>2</PartNumber><ChecksumCRC32>x</ChecksumCRC32></Part>\n\
            <Part><PartNumber>7</PartNumber><ETag>ef56</ETag></Part>\n\
            </CompleteMultipartUpload>";
        assert_eq!(
            parse_complete(body),
            Some(vec![
                (1, "ab12".to_owned()),
                (2, "cd34".to_owned()),
                (7, "ef56".to_owned())
            ])
        );
        assert_eq!(
            parse_complete("<CompleteMultipartUpload></CompleteMultipartUpload>"),
            Some(vec![])
        );
        for bad in [
            "",
            "<Other></Other>",
            "<CompleteMultipartUploadX></CompleteMultipartUploadX>",
            "<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            "<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&bogus;</ETag></Part></CompleteMultipartUpload>",
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            "<CompleteMultipartUpload><Junk/></CompleteMultipartUpload>",
            "<CompleteMultipartUpload></CompleteMultipartUpload>trailing",
        ] {
            assert_eq!(parse_complete(bad), None, "{bad}");
        }
    }

    #[test]
    fn results_are_escaped() {
        let xml = initiated("local", "a&b.png", "id");
        assert!(xml.contains("<Key>a&amp;b.png</Key><UploadId>id</UploadId>"));
        let xml = completed("/s3/local/k", "local", "k", "ab-2");
        assert!(xml.contains("<ETag>&quot;ab-2&quot;</ETag>"), "{xml}");
    }
}

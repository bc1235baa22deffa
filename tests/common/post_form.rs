//! Builds `multipart/form-data` bodies for POST upload tests: the fields in
//! order, then the file, as a browser sends them.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

/// The boundary of every body built here.
pub const BOUNDARY: &str = "----presignTestBoundary7MA4YWxkTrZu0gW";

/// The `Content-Type` header for a body from [`body`].
pub fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// `fields`, then a part named `file` with `filename` and `file_type`.
pub fn body(fields: &[(String, String)], filename: &str, file_type: &str, file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {file_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// `fields` with `name` set to `value` (added first if absent).
pub fn with(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut fields = fields.to_vec();
    match fields
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(field) => field.1 = value.to_owned(),
        None => fields.insert(0, (name.to_owned(), value.to_owned())),
    }
    fields
}

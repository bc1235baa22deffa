//! `presign post`: a signed browser POST upload form, as JSON (URL and
//! fields in order) or, with `--html`, as a ready-to-use HTML form.

use super::args::{Args, CliError};
use super::{signer, target};
use presign::s3::{PostRequest, PresignError, PresignedPost, FILENAME_PLACEHOLDER};
use presign::sigv4::Condition;

/// S3's largest single upload, the default top of `content-length-range`
/// when only `--min-bytes` is given.
const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Fields the signature and the form set themselves.
const RESERVED: [&str; 4] = ["key", "policy", "file", "bucket"];

/// Signs the form the arguments describe; returns what to print.
pub fn run(args: &[String]) -> Result<String, CliError> {
    let args = Args::parse(
        args,
        &[
            "bucket",
            "key",
            "key-prefix",
            "content-type",
            "content-type-prefix",
            "min-bytes",
            "max-bytes",
            "expires",
            "field",
            "region",
            "endpoint",
            "time",
            "profile",
        ],
        &["path-style", "html"],
    )?;
    if let Some(extra) = args.positional.first() {
        return Err(CliError(format!(
            "{extra}: unexpected argument (see --help)"
        )));
    }
    let bucket_name = args
        .get("bucket")
        .ok_or_else(|| CliError("--bucket: required".into()))?;
    let key = match (args.get("key"), args.get("key-prefix")) {
        (Some(key), None) => key.to_owned(),
        (None, Some(prefix)) => format!("{prefix}{FILENAME_PLACEHOLDER}"),
        _ => return Err(CliError("--key or --key-prefix: give exactly one".into())),
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut conditions = Vec::new();
    match (args.get("content-type"), args.get("content-type-prefix")) {
        (Some(_), Some(_)) => {
            return Err(CliError(
                "--content-type or --content-type-prefix: give at most one".into(),
            ))
        }
        (Some(exact), None) => {
            fields.push(("Content-Type".into(), exact.into()));
            conditions.push(Condition::eq("Content-Type", exact));
        }
        // The page sets the file's own type; the prefix itself passes.
        (None, Some(prefix)) => {
            fields.push(("Content-Type".into(), prefix.into()));
            conditions.push(Condition::starts_with("Content-Type", prefix));
        }
        (None, None) => {}
    }
    let bytes = |option: &str| -> Result<Option<u64>, CliError> {
        args.get(option)
            .map(|raw| {
                raw.parse::<u64>().map_err(|_| {
                    CliError(format!(
                        "--{option} {raw}: expected a whole number of bytes"
                    ))
                })
            })
            .transpose()
    };
    match (bytes("min-bytes")?, bytes("max-bytes")?) {
        (None, None) => {}
        (min, max) => {
            let (min, max) = (min.unwrap_or(0), max.unwrap_or(MAX_OBJECT_BYTES));
            if min > max {
                return Err(CliError(format!(
                    "--min-bytes {min}: above --max-bytes {max}"
                )));
            }
            conditions.push(Condition::content_length_range(min, max));
        }
    }
    for raw in args.all("field") {
        let (name, value) = raw
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| CliError(format!("--field {raw:?}: expected name=value")))?;
        let reserved = RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
            || name.to_ascii_lowercase().starts_with("x-amz-")
                && !name.to_ascii_lowercase().starts_with("x-amz-meta-");
        let repeated = fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if reserved || repeated {
            return Err(CliError(format!(
                "--field {name}: set by the signature or another option, or given twice"
            )));
        }
        fields.push((name.into(), value.into()));
        conditions.push(Condition::eq(name, value));
    }
    let region = args.get("region").unwrap_or("us-east-1");
    let (bucket, expires, time) = target(&args, bucket_name, region, 3600)?;
    let (signer, expires) = signer(args.get("profile"), region, time, expires)?;
    let field_refs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = PostRequest {
        key: &key,
        fields: &field_refs,
        conditions: &conditions,
    };
    let post = bucket
        .presign_post(&signer, &request, time, expires)
        .map_err(|e| {
            let argument = match e {
                PresignError::Expiry(_) => "--expires",
                _ => "--region or AWS_ACCESS_KEY_ID",
            };
            CliError(format!("{argument}: {e}"))
        })?;
    Ok(if args.flag("html") {
        html_form(&post)
    } else {
        post.to_json()
    })
}

/// A plain HTML form that uploads with no JavaScript: the fields hidden,
/// in order, then the file (S3 ignores whatever follows the file).
fn html_form(post: &PresignedPost) -> String {
    let mut out = format!(
        "<form action=\"{}\" method=\"post\" enctype=\"multipart/form-data\">\n",
        escape(&post.url)
    );
    for (name, value) in &post.fields {
        out.push_str(&format!(
            "  <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    out.push_str("  <input type=\"file\" name=\"file\" required>\n");
    out.push_str("  <button type=\"submit\">Upload</button>\n</form>");
    out
}

/// Text safe inside a double-quoted HTML attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

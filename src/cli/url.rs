//! `presign url`: one presigned URL on standard output.

use super::args::{header, Args, CliError};
use super::{signer, target};
use presign::s3::{ObjectRequest, PresignError, METHODS};

/// Signs the request the arguments describe and returns the URL; with
/// `--verbose`, the canonical request and string to sign go to stderr.
pub fn run(args: &[String]) -> Result<String, CliError> {
    let args = Args::parse(
        args,
        &[
            "bucket", "key", "method", "region", "endpoint", "expires", "time", "header", "query",
            "profile",
        ],
        &["path-style", "verbose"],
    )?;
    if let Some(extra) = args.positional.first() {
        return Err(CliError(format!(
            "{extra}: unexpected argument (see --help)"
        )));
    }
    let bucket_name = args
        .get("bucket")
        .ok_or_else(|| CliError("--bucket: required".into()))?;
    let key = args
        .get("key")
        .ok_or_else(|| CliError("--key: required".into()))?;
    let method = args.get("method").unwrap_or("GET").to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(CliError(format!(
            "--method {method}: expected one of {}",
            METHODS.join(", ")
        )));
    }
    let region = args.get("region").unwrap_or("us-east-1");
    let (bucket, expires, time) = target(&args, bucket_name, region, 900)?;
    let headers = args
        .all("header")
        .map(header)
        .collect::<Result<Vec<_>, _>>()?;
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let query: Vec<(&str, Option<&str>)> = args
        .all("query")
        .map(|q| match q.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (q, None),
        })
        .collect();
    if let Some((name, _)) = query.iter().find(|(name, _)| name.is_empty()) {
        return Err(CliError(format!("--query {name:?}: the name is empty")));
    }
    let (signer, expires) = signer(args.get("profile"), region, time, expires)?;
    let request = ObjectRequest {
        method: &method,
        key,
        query: &query,
        headers: &headers,
    };
    let (presigned, trace) = bucket
        .presign_traced(&signer, &request, time, expires)
        .map_err(|e| {
            let argument = match e {
                PresignError::Expiry(_) => "--expires",
                PresignError::Header(_) => "--header",
                PresignError::QueryParameter(_) => "--query",
                PresignError::Scope(_) => "--region or AWS_ACCESS_KEY_ID",
                PresignError::Method(_) => "--method",
                _ => "--region",
            };
            CliError(format!("{argument}: {e}"))
        })?;
    if args.flag("verbose") {
        eprintln!(
            "canonical request:\n{}\n\nstring to sign:\n{}\n",
            trace.canonical_request, trace.string_to_sign
        );
    }
    Ok(presigned.url)
}

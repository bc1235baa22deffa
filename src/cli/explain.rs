//! `presign explain URL`: what a presigned URL signs, and whether the
//! signature matches the secret in the environment.
//!
//! This is what to run when S3 answers `SignatureDoesNotMatch`: S3's error
//! body holds the canonical request and string to sign it computed; these
//! are ours, to compare line by line.

use super::args::{header, Args, CliError};
use super::{format_time, parse_time};
use presign::sigv4::{
    verify_presigned, Credentials, PresignedParams, Received, Signer, SigningOptions,
    VerifyErrorKind, VerifyOptions, UNSIGNED_PAYLOAD,
};
use std::fmt::Write as _;

/// What `explain` found.
pub struct Explanation {
    /// The report, for standard output.
    pub report: String,
    /// `Some(false)` when the secret in the environment does not produce
    /// the URL's signature.
    pub matches: Option<bool>,
}

/// Explains the presigned URL in `args`.
pub fn run(args: &[String], now: time::OffsetDateTime) -> Result<Explanation, CliError> {
    let args = Args::parse(args, &["method", "header", "time"], &[])?;
    let [url] = args.positional.as_slice() else {
        return Err(CliError(
            "explain: expected exactly one URL (see --help)".into(),
        ));
    };
    // A presigned URL is a bearer token: errors show it without its query.
    let shown = match url.split_once('?') {
        Some((before, _)) => format!("{before}?…"),
        None => url.clone(),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| CliError(format!("{shown}: expected an http:// or https:// URL")))?;
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = if path.is_empty() { "/" } else { path };
    let method = args.get("method").unwrap_or("GET").to_ascii_uppercase();
    let now = match args.get("time") {
        Some(raw) => parse_time("--time", raw)?,
        None => now,
    };
    let params = PresignedParams::parse(query)
        .map_err(|e| CliError(format!("{shown}: not a presigned URL: {}", e.message())))?;

    let given = args
        .all("header")
        .map(header)
        .collect::<Result<Vec<_>, _>>()?;
    let mut headers: Vec<(&str, &str)> = vec![("host", authority)];
    headers.extend(given.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let received = Received {
        method: &method,
        path,
        query,
        headers: &headers,
        payload_hash: UNSIGNED_PAYLOAD,
    };

    let mut report = String::new();
    let expires_at = params.expires_at();
    let state = if now > expires_at {
        "expired"
    } else if params.date.time() > now + time::Duration::minutes(15) {
        "not valid yet"
    } else {
        "valid now"
    };
    let _ = writeln!(report, "method:          {method}");
    let _ = writeln!(report, "host:            {authority}");
    let _ = writeln!(report, "path:            {path}");
    let _ = writeln!(report, "access key id:   {}", params.access_key_id);
    let _ = writeln!(
        report,
        "scope:           {}/{}/{}/aws4_request",
        params.scope_date, params.region, params.service
    );
    let _ = writeln!(
        report,
        "signed at:       {}",
        format_time(params.date.time())
    );
    let _ = writeln!(
        report,
        "expires:         {} ({} s; {state})",
        format_time(expires_at),
        params.expires
    );
    let _ = writeln!(
        report,
        "signed headers:  {}",
        params.signed_headers.join(";")
    );
    let trace = match params.trace(&received, SigningOptions::S3) {
        Ok(trace) => trace,
        Err(e) => {
            let missing: Vec<&str> = params
                .signed_headers
                .iter()
                .map(String::as_str)
                .filter(|h| !headers.iter().any(|(n, _)| n == h))
                .collect();
            return Err(CliError(format!(
                "{}; pass the value the request sends, e.g. --header '{}: VALUE'",
                e.message(),
                missing.first().unwrap_or(&"name")
            )));
        }
    };
    let _ = writeln!(
        report,
        "\ncanonical request:\n{}\n",
        trace.canonical_request
    );
    let _ = writeln!(report, "string to sign:\n{}\n", trace.string_to_sign);
    let _ = writeln!(report, "signature:       {}", params.signature);

    let matches = check_signature(&received, &params, &mut report);
    Ok(Explanation { report, matches })
}

/// Checks the signature with the environment's secret, at the URL's own
/// signing time so that an expired URL can still be checked.
fn check_signature(
    received: &Received<'_>,
    params: &PresignedParams,
    report: &mut String,
) -> Option<bool> {
    let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        let _ = writeln!(
            report,
            "check:           not checked (AWS_SECRET_ACCESS_KEY is not set)"
        );
        return None;
    };
    if id != params.access_key_id {
        let _ = writeln!(
            report,
            "check:           not checked: the URL is signed by {}, the environment has {id}",
            params.access_key_id
        );
        return None;
    }
    let signer = Signer::new(
        Credentials::new(id, secret),
        params.region.as_str(),
        params.service.as_str(),
    );
    match verify_presigned(
        received,
        params.date.time(),
        VerifyOptions::default(),
        |_| Some(&signer),
    ) {
        Ok(_) => {
            let _ = writeln!(
                report,
                "check:           signature matches the secret in AWS_SECRET_ACCESS_KEY"
            );
            Some(true)
        }
        Err(e) if e.kind() == VerifyErrorKind::SignatureMismatch => {
            let _ = writeln!(
                report,
                "check:           signature does NOT match the secret in AWS_SECRET_ACCESS_KEY: the URL was \
                 changed after signing, or signed with another secret, method or header values"
            );
            Some(false)
        }
        Err(e) => {
            let _ = writeln!(report, "check:           not checked: {e}");
            None
        }
    }
}

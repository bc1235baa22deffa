//! The command line: `presign serve` runs the upload server (`serve`:
//! the process around [`presign::server::Server`]); `presign url`,
//! `presign post` and `presign explain` are the signer for scripts.
//!
//! Credentials come from the server's chain
//! ([`presign::server::credentials`]): environment keys, the profile
//! (`--profile` or `AWS_PROFILE`), the container endpoint, EC2 instance
//! metadata. Bad arguments print one line naming the argument and exit
//! with status 2.

mod args;
mod explain;
mod post;
mod serve;
mod url;

use args::CliError;
use presign::s3::{AddressingStyle, Bucket, Endpoint, InvalidRegion};
use presign::server::credentials::refresh::{Current, Expiring};
use presign::server::credentials::{self, Fetched};
use presign::server::Vars;
use presign::sigv4::{AmzDate, InvalidExpiry, Signer, MAX_EXPIRES};
use std::process::ExitCode;

/// Help text.
pub const USAGE: &str = "\
usage:
  presign [serve] [--listen ADDR]      run the upload server (configured by environment)
  presign url --bucket B --key K [--method PUT|GET|HEAD|DELETE|POST] [--region R]
              [--endpoint URL] [--path-style] [--expires SECONDS] [--time YYYYMMDDTHHMMSSZ]
              [--profile NAME]
              [--header 'name: value']... [--query 'name=value' | --query name]... [--verbose]
  presign post --bucket B (--key K | --key-prefix P) [--content-type T | --content-type-prefix P]
              [--min-bytes N] [--max-bytes N] [--expires SECONDS] [--field name=value]...
              [--region R] [--endpoint URL] [--path-style] [--time YYYYMMDDTHHMMSSZ]
              [--profile NAME] [--html]
                                       a browser POST upload form: URL and fields as JSON,
                                       or with --html a ready-to-use HTML form
  presign explain URL [--method M] [--header 'name: value']... [--time YYYYMMDDTHHMMSSZ]

Credentials, first found: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
the profile (--profile or AWS_PROFILE) in ~/.aws/credentials or ~/.aws/config, with
credential_process; the ECS/EKS container endpoint; EC2 instance metadata (IMDSv2).
";

/// `presign serve`.
pub fn serve(args: &[String]) -> ExitCode {
    serve::run(args)
}

/// `presign url`.
pub fn url(args: &[String]) -> ExitCode {
    if wants_help(args) {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match url::run(args) {
        Ok(url) => {
            println!("{url}");
            ExitCode::SUCCESS
        }
        Err(e) => bad_arguments(&e),
    }
}

/// `presign post`.
pub fn post(args: &[String]) -> ExitCode {
    if wants_help(args) {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match post::run(args) {
        Ok(form) => {
            println!("{form}");
            ExitCode::SUCCESS
        }
        Err(e) => bad_arguments(&e),
    }
}

/// `presign explain`.
pub fn explain(args: &[String]) -> ExitCode {
    if wants_help(args) {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match explain::run(args, time::OffsetDateTime::now_utc()) {
        Ok(explanation) => {
            print!("{}", explanation.report);
            if explanation.matches == Some(false) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => bad_arguments(&e),
    }
}

fn wants_help(args: &[String]) -> bool {
    args.iter().any(|a| a == "--help" || a == "-h")
}

fn bad_arguments(error: &CliError) -> ExitCode {
    eprintln!("presign: {error}");
    ExitCode::from(2)
}

/// Credentials from the chain the server uses, with `profile` (from
/// `--profile`) over `AWS_PROFILE`.
fn credentials(profile: Option<&str>) -> Result<Fetched, CliError> {
    let vars = Vars::new(std::env::vars(), None);
    let fail = |e: credentials::Error| CliError(format!("credentials: {e}"));
    let profile = credentials::Profile::read(&vars, profile).map_err(fail)?;
    for warning in &profile.warnings {
        eprintln!("presign: warning: {warning}");
    }
    let source = credentials::Source::resolve(&vars, &profile).map_err(fail)?;
    if let Some(static_credentials) = source.static_credentials() {
        return Ok(Fetched {
            credentials: static_credentials.clone(),
            expires: None,
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("credentials: cannot start the async runtime: {e}")))?;
    runtime.block_on(source.fetch_first()).map_err(fail)
}

/// The bucket, expiry and signing time that `--bucket`, `--region`,
/// `--endpoint`, `--path-style`, `--expires` (else `default_expires`) and
/// `--time` (else now) describe, each checked by the rule the library and
/// the server's configuration use, before any credentials are fetched.
fn target(
    args: &args::Args,
    bucket_name: &str,
    region: &str,
    default_expires: u32,
) -> Result<(Bucket, u32, time::OffsetDateTime), CliError> {
    InvalidRegion::check(region).map_err(|e| CliError(format!("--region {e}")))?;
    let endpoint = match args.get("endpoint") {
        Some(url) => Endpoint::parse(url).map_err(|e| CliError(format!("--endpoint: {e}")))?,
        None => Endpoint::aws(region),
    };
    let style = if args.flag("path-style") {
        AddressingStyle::Path
    } else {
        AddressingStyle::VirtualHosted
    };
    let bucket = Bucket::new(endpoint, bucket_name, region, style)
        .map_err(|e| CliError(format!("--bucket: {e}")))?;
    let expires = match args.get("expires") {
        None => default_expires,
        Some(raw) => {
            let expires = raw.parse::<u32>().map_err(|_| {
                CliError(format!(
                    "--expires {raw}: expected a whole number of seconds from 1 to {MAX_EXPIRES}"
                ))
            })?;
            InvalidExpiry::check(expires).map_err(|e| CliError(format!("--expires: {e}")))?;
            expires
        }
    };
    let time = match args.get("time") {
        Some(raw) => parse_time("--time", raw)?,
        None => time::OffsetDateTime::now_utc(),
    };
    Ok((bucket, expires, time))
}

/// A signer for `region` with the chain's credentials, and `expires`
/// capped so that no URL or form outlives temporary credentials (with a
/// warning on stderr when it is).
fn signer(
    profile: Option<&str>,
    region: &str,
    time: time::OffsetDateTime,
    expires: u32,
) -> Result<(Signer, u32), CliError> {
    let fetched = credentials(profile)?;
    let current = Current {
        signer: Signer::new(fetched.credentials, region, "s3"),
        expires: fetched.expires,
    };
    let expires = match current.lifetime(expires, time) {
        Ok(capped) if capped < expires => {
            eprintln!(
                "presign: warning: --expires {expires} capped to {capped} s: the credentials expire at {}",
                format_time(current.expires.unwrap_or(time))
            );
            capped
        }
        Ok(expires) => expires,
        Err(Expiring(at)) => {
            return Err(CliError(format!(
                "credentials: they expire at {}, too soon to sign with",
                format_time(at)
            )))
        }
    };
    Ok((current.signer, expires))
}

fn parse_time(option: &str, raw: &str) -> Result<time::OffsetDateTime, CliError> {
    AmzDate::parse(raw).map(|d| d.time()).ok_or_else(|| {
        CliError(format!(
            "{option} {raw}: expected YYYYMMDDTHHMMSSZ, e.g. 20130524T000000Z"
        ))
    })
}

/// `2013-05-24 00:00:00 UTC`.
fn format_time(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

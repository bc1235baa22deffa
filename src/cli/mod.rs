//! `presign url`, `presign post` and `presign explain`: the signer for scripts.
//!
//! Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN`. Bad arguments print one line naming the argument
//! and exit with status 2.

mod args;
mod explain;
mod post;
mod url;

use args::CliError;
use presign::sigv4::{AmzDate, Credentials};
use std::process::ExitCode;

/// Help text.
pub const USAGE: &str = "\
usage:
  presign [serve] [--listen ADDR]      run the upload server (configured by environment)
  presign url --bucket B --key K [--method PUT|GET|HEAD|DELETE|POST] [--region R]
              [--endpoint URL] [--path-style] [--expires SECONDS] [--time YYYYMMDDTHHMMSSZ]
              [--header 'name: value']... [--query 'name=value' | --query name]... [--verbose]
  presign post --bucket B (--key K | --key-prefix P) [--content-type T | --content-type-prefix P]
              [--min-bytes N] [--max-bytes N] [--expires SECONDS] [--field name=value]...
              [--region R] [--endpoint URL] [--path-style] [--time YYYYMMDDTHHMMSSZ] [--html]
                                       a browser POST upload form: URL and fields as JSON,
                                       or with --html a ready-to-use HTML form
  presign explain URL [--method M] [--header 'name: value']... [--time YYYYMMDDTHHMMSSZ]

Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
";

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

fn credentials_from_env() -> Result<Credentials, CliError> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return Err(CliError(
            "credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".into(),
        ));
    };
    let credentials = Credentials::new(id, secret);
    Ok(match var("AWS_SESSION_TOKEN") {
        Some(token) => credentials.with_session_token(token),
        None => credentials,
    })
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

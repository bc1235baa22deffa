//! A profile's `credential_process`: a program that prints
//! `{"Version": 1, "AccessKeyId": …, "SecretAccessKey": …, "SessionToken": …,
//! "Expiration": …}` and exits 0.
//!
//! The command runs under `sh -c`, as aws-sdk-rust does on Unix, so quoted
//! paths work. Its standard error becomes the message when it fails; its
//! standard output is never echoed, since it holds the secret.

use super::document::Document;
use super::{Error, Fetched};
use std::process::Stdio;
use std::time::Duration;

/// A credential helper that has not answered in this long is stuck.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `command` and reads the credentials it prints.
pub async fn run(profile: &str, command: &str) -> Result<Fetched, Error> {
    let fail = |why: String| Error(format!("credential_process of profile {profile}: {why}"));
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run sh: {e}")))?;
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| fail(format!("no answer within {TIMEOUT:?}")))?
        .map_err(|e| fail(e.to_string()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr: String = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        return Err(fail(format!(
            "{}: {}",
            output.status,
            stderr.chars().take(300).collect::<String>()
        )));
    }
    let document = Document::parse(&output.stdout)
        .map_err(|_| fail("it did not print a JSON object on standard output".into()))?;
    if document.number("Version") != Some("1") {
        return Err(fail("its JSON must have \"Version\": 1".into()));
    }
    document.credentials("SessionToken", true).map_err(fail)
}

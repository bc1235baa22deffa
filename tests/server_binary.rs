//! The `presign` binary as an operator meets it: the start-up banner, a
//! configuration mistake, and SIGTERM.
#![cfg(feature = "server")]

#[path = "common/binary.rs"]
mod binary;
#[path = "common/server.rs"]
mod server;

use std::io::{BufRead, Read};
use std::time::Duration;

#[test]
fn starts_with_a_banner_without_secrets_and_stops_on_sigterm() {
    let dir = server::temp_dir("binary");
    let mut command = binary::command();
    command
        .env("HOME", &dir)
        .env("S3_BUCKET_NAME", "photos")
        .env("AWS_ACCESS_KEY_ID", "AKIDBANNER")
        .env("AWS_SECRET_ACCESS_KEY", "banner-secret-value")
        .env("AWS_SESSION_TOKEN", "banner-token-value");
    let (mut child, mut stdout) = binary::spawn_serve(command);
    let mut banner = String::new();
    for _ in 0..4 {
        stdout.read_line(&mut banner).unwrap();
    }
    assert!(
        banner.starts_with("presign: listening on http://127.0.0.1:"),
        "{banner}"
    );
    assert!(banner.contains("bucket photos"), "{banner}");
    assert!(banner.contains("AKIDBANNER"), "{banner}");
    assert!(
        !banner.contains("banner-secret-value") && !banner.contains("banner-token-value"),
        "{banner}"
    );

    let exit = binary::stop_with_sigterm(&mut child, Duration::from_secs(10));
    assert!(exit.success(), "{exit:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_configuration_mistake_is_one_line_and_exit_2() {
    let dir = server::temp_dir("binary-bad");
    let output = binary::command()
        .arg("serve")
        .env("HOME", &dir)
        .env("UPLOAD_EXPIRES_SECONDS", "999999")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("UPLOAD_EXPIRES_SECONDS"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

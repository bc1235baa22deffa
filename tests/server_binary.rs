//! The `presign` binary as an operator meets it: the start-up banner, a
//! configuration mistake, and SIGTERM.
#![cfg(feature = "server")]

#[path = "common/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn presign() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_presign"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

#[test]
fn starts_with_a_banner_without_secrets_and_stops_on_sigterm() {
    let dir = server::temp_dir("binary");
    let mut child = presign()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("HOME", &dir)
        .env("S3_BUCKET_NAME", "photos")
        .env("AWS_ACCESS_KEY_ID", "AKIDBANNER")
        .env("AWS_SECRET_ACCESS_KEY", "banner-secret-value")
        .env("AWS_SESSION_TOKEN", "banner-token-value")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
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

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "no exit within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
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
    let output = presign()
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

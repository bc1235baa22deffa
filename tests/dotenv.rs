//! `.env` as the binary reads it from its working directory: encodings it
//! refuses rather than ignore, a byte-order mark it strips, empty
//! environment variables that do not hide it, and warnings for the lines it
//! ignores. The AWS INI files' rules are in `tests/credentials.rs` and the
//! unit tests of `src/server/config/files.rs`.
#![cfg(feature = "server")]

#[path = "common/server.rs"]
mod server;

use presign::server::{Config, Vars};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `presign serve` in a fresh directory holding `.env` = `dotenv`.
fn presign_with(dotenv: &[u8], env: &[(&str, &str)]) -> Command {
    let dir = server::temp_dir("dotenv");
    std::fs::write(dir.join(".env"), dotenv).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_presign"));
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .env("LOCAL_BUCKET_DIR", dir.join("data"))
        .envs(env.iter().copied());
    command
}

/// The banner's lines up to the first that contains `until` (at most 10 s),
/// then SIGTERM.
fn banner_until(mut child: Child, until: &str) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut banner = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        banner.push_str(&line);
        banner.push('\n');
        if line.contains(until) {
            break;
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    banner
}

#[test]
fn a_dotenv_that_is_not_utf8_stops_the_start() {
    for (bytes, needle) in [
        (
            &b"UPLOAD_MAX_BYTES=1\nAPI_TOKEN=caf\xe9-token\n"[..],
            ".env: line 2 is not UTF-8",
        ),
        (&b"\xff\xfeA\x00=\x001\x00\n\x00"[..], ".env: is UTF-16"),
    ] {
        let output = presign_with(bytes, &[]).output().unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("token"), "no value echoed: {stderr}");
    }
}

#[test]
fn a_bom_is_stripped_and_ignored_lines_are_warned_about() {
    let child = presign_with(
        b"\xEF\xBB\xBFUPLOAD_MAX_BYTES=2048 # two KiB\nthis line is junk\nexport\tRATE_LIMIT_PER_MINUTE=7\n",
        &[],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let banner = banner_until(child, "warning: .env");
    assert!(banner.contains("max 2048 bytes"), "{banner}");
    assert!(banner.contains("7 API requests/min per IP"), "{banner}");
    assert!(
        banner.contains("warning: .env line 2 ignored: no '='"),
        "{banner}"
    );
    assert!(!banner.contains("junk"), "the line's text is not echoed");
}

#[test]
fn an_empty_environment_variable_is_unset() {
    let child = presign_with(b"UPLOAD_MAX_BYTES=4096\n", &[("UPLOAD_MAX_BYTES", "")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let banner = banner_until(child, "limits:");
    assert!(banner.contains("max 4096 bytes"), "{banner}");

    let vars = Vars::new(
        [("AWS_REGION".to_owned(), " ".to_owned())],
        Some("AWS_REGION=eu-west-3\n"),
    );
    assert_eq!(vars.get("AWS_REGION"), Some("eu-west-3"));
}

#[test]
fn ini_lines_that_are_ignored_are_reported_without_their_values() {
    let home = server::temp_dir("ini-warnings");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "aws_secret_access_key = orphan-secret\n[default]\r\
         aws_access_key_id = AKIDINI ; comment\raws_secret_access_key = \"quoted-secret\"\r",
    )
    .unwrap();
    let vars = Vars::new(
        [
            ("HOME".to_owned(), home.display().to_string()),
            ("S3_BUCKET_NAME".to_owned(), "b".to_owned()),
        ],
        None,
    );
    let config = Config::load(&vars, None).unwrap();
    let warnings = config.warnings.join("\n");
    assert!(
        warnings.contains("credentials line 1 ignored: a key outside any [section]"),
        "{warnings}"
    );
    assert!(
        warnings.contains("credentials line 4: the quotes are part of the value"),
        "{warnings}"
    );
    assert!(!warnings.contains("secret"), "{warnings}");
    assert!(
        config.summary().contains("access key AKIDINI)"),
        "{}",
        config.summary()
    );
}

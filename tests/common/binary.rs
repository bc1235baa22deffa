//! The `presign` binary as a child process, as an operator runs it: a
//! clean environment, `serve` on a free port, and a stop by SIGTERM. A
//! test crate that includes this also includes `server.rs` as `server`.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// `presign` with an empty environment but `PATH`, so that nothing of the
/// machine running the tests (credentials, settings) reaches it.
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_presign"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// As [`command`], run by `sh` with its soft limit on open files
/// (`RLIMIT_NOFILE`) lowered to `limit`, as on a host whose limit is low.
pub fn command_with_open_files(limit: u64) -> Command {
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            &format!("ulimit -S -n {limit} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_presign"),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

/// A `presign serve` child that has printed where it listens.
pub struct Served {
    /// The process; its stderr is still a pipe to read (or drain).
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The banner's first line, as printed.
    pub banner: String,
    /// The rest of its stdout, still open.
    pub stdout: BufReader<ChildStdout>,
}

/// Runs `command serve --listen 127.0.0.1:0` with stdout and stderr
/// piped; returns the child and its stdout, where the banner comes.
pub fn spawn_serve(mut command: Command) -> (Child, BufReader<ChildStdout>) {
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

/// As [`spawn_serve`], with `HOME` and the local bucket in a fresh
/// directory named after `name`, then `vars` (which may override those);
/// returns once the banner has named the address.
pub fn serve(mut command: Command, name: &str, vars: &[(&str, &str)]) -> Served {
    let dir = super::server::temp_dir(name);
    command
        .env("HOME", &dir)
        .env("LOCAL_BUCKET_DIR", dir.join("data"))
        .envs(vars.iter().copied());
    let (child, mut stdout) = spawn_serve(command);
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    let addr = banner
        .trim()
        .strip_prefix("presign: listening on http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected banner: {banner}"))
        .parse()
        .unwrap();
    Served {
        child,
        addr,
        banner,
        stdout,
    }
}

/// Sends SIGTERM to `child` and returns how it exited; fails the test if
/// it is still running after `limit`.
pub fn stop_with_sigterm(child: &mut Child, limit: Duration) -> ExitStatus {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + limit;
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(
            Instant::now() < deadline,
            "no exit within {limit:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

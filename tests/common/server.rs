//! Runs the real server in-process on `127.0.0.1:0` with its local bucket
//! in a fresh directory, for tests that talk to it over real sockets.
#![allow(dead_code)] // Shared by several test crates, each using a subset.

use presign::server::{run, Config, Vars};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Local-bucket credentials the tests know, so they can sign URLs
/// themselves (expired, tampered, hostile keys).
pub const KEY_ID: &str = "LOCALTESTKEY";
/// See [`KEY_ID`].
pub const SECRET: &str = "local-test-secret";

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

/// A fresh, empty directory under target/.
pub fn temp_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl TestServer {
    /// Starts a server with the local bucket and `vars` on top of quiet
    /// test defaults.
    pub fn start(vars: &[(&str, &str)]) -> TestServer {
        let dir = temp_dir("bucket");
        let mut env: Vec<(String, String)> = vec![
            (
                "LOCAL_BUCKET_DIR".into(),
                dir.join("data").display().to_string(),
            ),
            ("LOCAL_BUCKET_ACCESS_KEY_ID".into(), KEY_ID.into()),
            ("LOCAL_BUCKET_SECRET_ACCESS_KEY".into(), SECRET.into()),
            ("ACCESS_LOG".into(), "off".into()),
            ("HOME".into(), dir.display().to_string()),
        ];
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config =
            Config::load(&Vars::new(env, None), Some("127.0.0.1:0")).expect("test configuration");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                run(listener, config, async {
                    let _ = rx.await;
                })
                .await
            })
        });
        TestServer {
            addr,
            dir: dir.join("data"),
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks the server to stop and waits until `run` returns.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.take().map(|tx| tx.send(()));
        self.thread.take().unwrap().join().unwrap()
    }

    /// Every file under the bucket directory, relative paths.
    pub fn files(&self) -> Vec<String> {
        files(&self.dir)
    }
}

/// Every file under `dir`, relative paths, sorted.
pub fn files(dir: &std::path::Path) -> Vec<String> {
    fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

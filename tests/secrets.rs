//! No secret in anything printed: the server binary (S3 mode with a
//! session token, API and metrics tokens; local-bucket mode with its own
//! secret) and the command line run through a sequence of good and bad
//! requests, and every byte they print (stdout, stderr with the access
//! log, every error body) is searched for the secret key, the session
//! token, the bearer tokens and every `X-Amz-Signature` value handed out.
//!
//! Handed out on purpose, and so not searched for the session token and
//! signatures: the presigned URLs and forms themselves (201 bodies,
//! `presign url` and `presign post` on stdout), and the canonical requests
//! `presign url --verbose` and `presign explain` print to compare with
//! S3's (S3's own error body carries the same token).
#![cfg(feature = "server")]

#[path = "common/binary.rs"]
mod binary;
#[path = "common/http.rs"]
mod http;
#[path = "common/server.rs"]
mod server;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

const SECRET_KEY: &str = "wJalrXUtnFEMI-secret-key-for-the-secrets-test";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEJr-session-token-for-the-secrets-test";
const API_TOKEN: &str = "api-token-for-the-secrets-test-0123456789";
const METRICS_TOKEN: &str = "metrics-token-for-the-secrets-test-0123456789";
const LOCAL_SECRET: &str = "local-bucket-secret-for-the-secrets-test";

/// The binary, without even the EC2 metadata service to ask for credentials.
fn presign() -> Command {
    let mut command = binary::command();
    command.env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

/// The server binary with the local bucket and `envs`, listening.
fn start(envs: &[(&str, &str)]) -> binary::Served {
    binary::serve(presign(), "secrets", envs)
}

/// What these tests do with a running server binary.
impl binary::Served {
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> http::Response {
        let addr = self.addr.to_string();
        http::send_raw(&addr, method, &addr, target, headers, body).unwrap()
    }

    /// Stops it with SIGTERM (which writes the access log out) and
    /// returns everything it printed.
    fn stop(mut self) -> String {
        binary::stop_with_sigterm(&mut self.child, Duration::from_secs(10));
        let mut printed = self.banner;
        self.stdout.read_to_string(&mut printed).unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut printed)
            .unwrap();
        printed
    }
}

/// Every `X-Amz-Signature` value (query parameter or POST form field) in
/// `text`, in any case.
fn signatures(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    for marker in ["x-amz-signature=", "\"x-amz-signature\":\""] {
        let mut rest = lower.as_str();
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            let sig: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
            if sig.len() == 64 {
                found.push(sig);
            }
        }
    }
    found
}

/// Fails if `printed` (named `what`) holds any of `secrets`.
fn assert_clean(what: &str, printed: &str, secrets: &[String]) {
    let lower = printed.to_ascii_lowercase();
    for secret in secrets {
        assert!(
            !lower.contains(&secret.to_ascii_lowercase()),
            "{what} prints the secret {secret:?}:\n{printed}"
        );
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// Method, target, headers and body of a request to send.
type Request<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a [u8]);

#[test]
fn the_s3_mode_server_prints_no_secret() {
    let server = start(&[
        ("S3_BUCKET_NAME", "photos"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDSECRETSTEST"),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("API_TOKEN", API_TOKEN),
        ("METRICS_TOKEN", METRICS_TOKEN),
        ("ACCESS_LOG", "json"),
        ("RATE_LIMIT_PER_MINUTE", "8"),
    ]);
    let bearer = format!("Bearer {API_TOKEN}");
    let auth = [("Content-Type", FORM), ("Authorization", bearer.as_str())];
    let png = b"filename=a.png&type=image%2Fpng&size=10";
    let mut issued = Vec::new();
    let mut error_bodies = String::new();
    for (form, method) in [(&png[..], ""), (png, "&method=post")] {
        let body = [form, method.as_bytes()].concat();
        let created = server.send("POST", "/api/uploads", &auth, &body);
        assert_eq!(created.status, 201, "{}", created.text());
        let text = created.text();
        assert_clean(
            "a 201 answer",
            &text,
            &[SECRET_KEY.into(), API_TOKEN.into()],
        );
        issued.extend(signatures(&text));
        assert!(text.contains(SESSION_TOKEN), "the URL carries the token");
    }
    assert_eq!(issued.len(), 4, "two uploads, two view URLs: {issued:?}");
    let sig = issued[0].clone();
    let wrong = format!("Bearer {SECRET_KEY}");
    let query_target = format!("/nothing?X-Amz-Signature={sig}&token={API_TOKEN}");
    let metrics = format!("Bearer {METRICS_TOKEN}");
    let requests: Vec<Request> = vec![
        ("POST", "/api/uploads", vec![("Content-Type", FORM)], png),
        (
            "POST",
            "/api/uploads",
            vec![("Content-Type", FORM), ("Authorization", &wrong)],
            png,
        ),
        (
            "POST",
            "/api/uploads",
            auth.to_vec(),
            b"filename=a.svg&type=image%2Fsvg%2Bxml&size=1",
        ),
        (
            "POST",
            "/api/uploads",
            auth.to_vec(),
            b"filename=a.png&type=image%2Fpng&size=999999999",
        ),
        (
            "POST",
            "/api/uploads",
            auth.to_vec(),
            b"filename=%ZZ&type=image%2Fpng&size=1",
        ),
        (
            "POST",
            "/api/uploads",
            auth.to_vec(),
            b"type=image%2Fpng&size=1",
        ),
        (
            "POST",
            "/api/uploads",
            [&auth[..], &[("Origin", "https://evil.example")]].concat(),
            png,
        ),
        ("GET", &query_target, vec![], b""),
        ("PUT", "/api/uploads", vec![], b"x"),
        ("GET", "/metrics", vec![("Authorization", &wrong)], b""),
        ("GET", "/metrics", vec![("Authorization", &metrics)], b""),
    ];
    for (method, target, headers, body) in &requests {
        let answer = server.send(method, target, headers, body);
        if answer.status >= 400 {
            error_bodies.push_str(&answer.text());
        } else {
            assert_clean(
                "a 2xx answer",
                &answer.text(),
                &[SECRET_KEY.into(), METRICS_TOKEN.into()],
            );
        }
    }
    // Until the limiter: more 429s.
    for _ in 0..8 {
        let answer = server.send("POST", "/api/uploads", &auth, png);
        if answer.status >= 400 {
            error_bodies.push_str(&answer.text());
        }
    }
    assert!(error_bodies.contains("rate_limited"), "{error_bodies}");
    let printed = server.stop();
    assert!(
        printed.contains("\"path\":\"/nothing\""),
        "the access log ran:\n{printed}"
    );
    let mut secrets: Vec<String> = [SECRET_KEY, SESSION_TOKEN, API_TOKEN, METRICS_TOKEN]
        .map(String::from)
        .into();
    secrets.extend(issued);
    assert_clean("the server's stdout and stderr", &printed, &secrets);
    assert_clean("the error bodies", &error_bodies, &secrets);
}

#[test]
fn the_local_bucket_prints_no_secret_nor_the_right_signature() {
    let server = start(&[
        ("LOCAL_BUCKET_ACCESS_KEY_ID", "LOCALSECRETSTEST"),
        ("LOCAL_BUCKET_SECRET_ACCESS_KEY", LOCAL_SECRET),
        ("ACCESS_LOG", "on"),
    ]);
    let created = server.send(
        "POST",
        "/api/uploads",
        &[("Content-Type", FORM)],
        b"filename=a.png&type=image%2Fpng&size=10",
    );
    assert_eq!(created.status, 201);
    let text = created.text();
    let issued = signatures(&text);
    assert_eq!(issued.len(), 2, "{text}");
    let url = http::xml_element(
        text.replace("\"url\":\"", "<u>")
            .replace("\",", "</u>")
            .as_bytes(),
        "u",
    )
    .unwrap();
    let target = url
        .split_once(&server.addr.to_string())
        .unwrap()
        .1
        .to_owned();
    // The signature changed in its last digit: S3 answers with what it
    // computed (canonical request, string to sign), never the signature
    // that would have matched.
    let mut tampered = target.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let headers = [("Content-Type", "image/png"), ("If-None-Match", "*")];
    let mut error_bodies = String::new();
    for (target, headers, body) in [
        (tampered.as_str(), &headers[..], &b"0123456789"[..]),
        (target.as_str(), &headers[..], &b"01234567890"[..]),
        (
            target.as_str(),
            &[("Content-Type", "image/gif"), ("If-None-Match", "*")][..],
            b"0123456789",
        ),
        (
            target.split('?').next().unwrap(),
            &headers[..],
            b"0123456789",
        ),
    ] {
        let answer = server.send("PUT", target, headers, body);
        assert!(answer.status >= 400, "{}", answer.text());
        error_bodies.push_str(&answer.text());
    }
    assert!(
        error_bodies.contains("SignatureDoesNotMatch"),
        "{error_bodies}"
    );
    assert_eq!(
        server.send("PUT", &target, &headers, b"0123456789").status,
        200
    );
    let printed = server.stop();
    let mut secrets = vec![LOCAL_SECRET.to_owned()];
    secrets.extend(issued);
    assert_clean("the server's stdout and stderr", &printed, &secrets);
    assert_clean("the local bucket's error bodies", &error_bodies, &secrets);
}

#[test]
fn the_command_line_prints_no_secret_where_it_should_not() {
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIDSECRETSTEST"),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("HOME", "/nonexistent"),
    ];
    let run = |args: &[&str]| {
        let output = presign().args(args).envs(env).output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // `presign url` and `presign post` for the same object.
    let sign = |subcommand: &str| {
        run(&[
            subcommand,
            "--bucket",
            "b",
            "--key",
            "k.png",
            "--region",
            "us-east-1",
        ])
    };
    let (code, url, stderr) = sign("url");
    assert_eq!(code, Some(0), "{stderr}");
    let (_, form, post_stderr) = sign("post");
    let mut issued = signatures(&url);
    issued.extend(signatures(&form));
    assert_eq!(issued.len(), 2, "{url}{form}");
    let everything: Vec<String> = [SECRET_KEY, SESSION_TOKEN]
        .map(String::from)
        .into_iter()
        .chain(issued.iter().cloned())
        .collect();
    assert_clean("presign url's stdout", &url, &[SECRET_KEY.into()]);
    assert_clean("presign post's stdout", &form, &[SECRET_KEY.into()]);
    assert_clean("presign url's stderr", &stderr, &everything);
    assert_clean("presign post's stderr", &post_stderr, &everything);
    // explain on a changed URL: says it does not match, never what would.
    let url = url.trim();
    let mut tampered = url.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let (code, report, stderr) = run(&["explain", &tampered]);
    assert_eq!(code, Some(1), "{report}{stderr}");
    assert!(report.contains("does NOT match"), "{report}");
    assert_clean(
        "presign explain",
        &format!("{report}{stderr}"),
        &[SECRET_KEY.to_owned(), issued[0].clone()],
    );
    // Mistakes: the error names what is wrong, never the URL's query.
    for args in [
        &["explain", &format!("{}&X-Amz-Expires=abc", url)][..],
        &["explain", &url.replace("https://", "ftp://")][..],
        &[
            "url",
            "--bucket",
            "b",
            "--key",
            "k.png",
            "--expires",
            "nope",
        ][..],
        &["post", "--bucket", "b"][..],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_ne!(code, Some(0), "{args:?}: {stdout}{stderr}");
        assert_clean(
            &format!("{args:?}"),
            &format!("{stdout}{stderr}"),
            &everything,
        );
    }
}

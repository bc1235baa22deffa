//! The credential chain against loopback fakes of the container endpoint
//! (ECS, EKS Pod Identity) and IMDSv2 that script the cases real agents
//! produce: rotated token files, 401s, hanging token requests, fractional
//! expiry times, plain-text errors. Then the server itself: URLs capped at
//! the credentials' lifetime, refreshed keys used and verified, 503 when
//! none are left; and `credential_process` with real scripts.
//!
//! The fakes are written here because nothing that runs offline serves
//! the container endpoint; IMDS also gets a second opinion from moto
//! (`imds_from_moto`, run by `.ci/run`).
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/server.rs"]
mod server;

use presign::server::credentials::{Fetched, Profile, Source};
use presign::server::Vars;
use serde_json::Value;
use server::TestServer;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// A request the fake saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the fake answers.
enum Reply {
    Answer(u16, String),
    /// Accept the request and say nothing for 5 s.
    Hang,
}

/// A scripted HTTP/1.1 server on 127.0.0.1, one request per connection.
struct Fake {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn start(reply: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, reply) = (seen.clone(), Arc::new(reply));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, reply) = (log.clone(), reply.clone());
                std::thread::spawn(move || {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap_or(0);
                    let mut words = line.split_whitespace();
                    let (method, path) = (words.next(), words.next());
                    let (Some(method), Some(path)) = (method, path) else {
                        return;
                    };
                    let mut request = Seen {
                        method: method.into(),
                        path: path.into(),
                        headers: Vec::new(),
                    };
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = header.trim_end().split_once(':') {
                            request.headers.push((name.into(), value.trim().into()));
                        }
                    }
                    let index = {
                        let mut log = log.lock().unwrap();
                        log.push(request.clone());
                        log.len() - 1
                    };
                    match reply(&request, index) {
                        Reply::Answer(status, body) => {
                            let _ = write!(
                                &stream,
                                "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\n\
                                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                        }
                        Reply::Hang => std::thread::sleep(Duration::from_secs(5)),
                    }
                });
            }
        });
        Fake { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The container/IMDS answer for `key_id`, expiring `in_seconds` from now.
fn credentials_json(key_id: &str, in_seconds: i64) -> String {
    format!(
        r#"{{"AccessKeyId":"{key_id}","SecretAccessKey":"secret-of-{key_id}","Token":"token-of-{key_id}","Expiration":"{}"}}"#,
        rfc3339(OffsetDateTime::now_utc() + time::Duration::seconds(in_seconds))
    )
}

fn vars(env: &[(&str, &str)]) -> Vars {
    Vars::new(
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        None,
    )
}

/// Resolves the chain from `env` and fetches, as the server does at start.
fn fetch(env: &[(&str, &str)]) -> Result<Fetched, String> {
    let vars = vars(env);
    let profile = Profile::read(&vars, None).map_err(|e| e.to_string())?;
    let source = Source::resolve(&vars, &profile).map_err(|e| e.to_string())?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(source.fetch_first())
        .map_err(|e| e.to_string())
}

/// Asserts that nothing secret from `credentials_json` leaked into `text`.
fn assert_no_secret(text: &str) {
    assert!(
        !text.contains("secret-of-") && !text.contains("token-of-"),
        "{text}"
    );
}

#[test]
fn container_token_file_is_read_again_on_every_fetch() {
    let dir = server::temp_dir("token-file");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "first-token\n").unwrap();
    let fake = Fake::start(|request, _| {
        let body = match request.header("authorization") {
            Some(token) => credentials_json(&format!("AKID{}", token.len()), 3600),
            None => return Reply::Answer(401, "no token".into()),
        };
        Reply::Answer(200, body)
    });
    let url = fake.url("/v1/credentials");
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token-loses"),
    ];
    fetch(&env).unwrap();
    std::fs::write(&token_file, "rotated-token-longer").unwrap();
    let fetched = fetch(&env).unwrap();
    assert_eq!(fetched.credentials.access_key_id(), "AKID20");
    let tokens: Vec<_> = fake
        .seen()
        .iter()
        .map(|s| s.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(tokens, ["first-token", "rotated-token-longer"]);
    assert_eq!(fake.seen()[0].header("accept"), Some("application/json"));
    assert_eq!(fake.seen()[0].path, "/v1/credentials");
}

#[test]
fn container_expiration_with_fractional_seconds() {
    let fake = Fake::start(|_, _| {
        Reply::Answer(
            200,
            r#"{"AccessKeyId":"AKIDEKS","SecretAccessKey":"secret-of-x","Token":"token-of-x","AccountId":"123","Expiration":"2099-01-02T03:04:05.123456789Z"}"#.into(),
        )
    });
    let url = fake.url("/v1/credentials");
    let fetched = fetch(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)]).unwrap();
    let expires = fetched.expires.unwrap();
    assert_eq!((expires.year(), expires.second()), (2099, 5));
    assert_eq!(expires.nanosecond(), 123_456_789);
    assert_eq!(fetched.credentials.session_token(), Some("token-of-x"));
    assert_no_secret(&format!("{fetched:?}"));
}

#[test]
fn container_plain_text_errors_are_reported_and_4xx_not_retried() {
    let fake = Fake::start(|_, _| {
        Reply::Answer(
            400,
            "Service account token failed basic claim validations: token is expired\n".into(),
        )
    });
    let url = fake.url("/v1/credentials");
    let error = fetch(&[
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "secret-of-the-pod"),
    ])
    .unwrap_err();
    assert!(error.contains("400"), "{error}");
    assert!(error.contains("token is expired"), "{error}");
    assert!(!error.contains("secret-of-the-pod"), "{error}");
    assert_eq!(fake.seen().len(), 1);

    // A 500 is retried; a JSON error in a 200 is an error, not credentials.
    let fake = Fake::start(|_, i| match i {
        0 => Reply::Answer(500, "busy".into()),
        _ => Reply::Answer(200, r#"{"code":"Throttled","message":"slow down"}"#.into()),
    });
    let url = fake.url("/creds");
    let error = fetch(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)]).unwrap_err();
    assert!(error.contains("Throttled: slow down"), "{error}");
    assert_eq!(fake.seen().len(), 2);
}

#[test]
fn container_full_uri_hosts_allowed_over_plain_http() {
    for (uri, needle) in [
        ("http://10.0.0.1/creds", "not allowed"),
        ("http://metadata.evil.example/creds", "not allowed"),
        ("https://169.254.170.23/v1/credentials", "https"),
        ("169.254.170.23/v1", "http://"),
    ] {
        let error = fetch(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)]).unwrap_err();
        assert!(
            error.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
            "{error}"
        );
        assert!(error.contains(needle), "{uri}: {error}");
    }
    // The relative URI (ECS) wins, so a bad full URI is never looked at.
    let vars = vars(&[
        (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/abc",
        ),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/"),
    ]);
    let source = Source::resolve(&vars, &Profile::default()).unwrap();
    assert_eq!(
        source.to_string(),
        "container endpoint http://169.254.170.2/v2/credentials/abc"
    );
}

#[test]
fn container_agent_not_running_names_the_provider() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/v1/credentials");
    let started = Instant::now();
    let error = fetch(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)]).unwrap_err();
    assert!(error.starts_with("container credentials from"), "{error}");
    assert!(error.contains("agent"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// An IMDSv2 fake: tokens `t1`, `t2`, …; `reject` says which tokens the
/// metadata paths refuse with 401.
fn imds(
    reject: &'static [&'static str],
    credentials: impl Fn() -> String + Send + Sync + 'static,
) -> Fake {
    let issued = Mutex::new(0);
    Fake::start(move |request, _| {
        if request.path == "/latest/api/token" {
            if request.method != "PUT"
                || request.header("x-aws-ec2-metadata-token-ttl-seconds") != Some("21600")
            {
                return Reply::Answer(400, "bad token request".into());
            }
            let mut issued = issued.lock().unwrap();
            *issued += 1;
            return Reply::Answer(200, format!("t{issued}"));
        }
        match request.header("x-aws-ec2-metadata-token") {
            Some(t) if !reject.contains(&t) => {}
            _ => return Reply::Answer(401, String::new()),
        }
        match request.path.as_str() {
            "/latest/meta-data/iam/security-credentials/" => Reply::Answer(200, "web-role".into()),
            "/latest/meta-data/iam/security-credentials/web-role" => {
                Reply::Answer(200, credentials())
            }
            "/latest/meta-data/placement/region" => Reply::Answer(200, "eu-north-1".into()),
            _ => Reply::Answer(404, "not found".into()),
        }
    })
}

#[test]
fn imds_401_gets_a_new_token_and_one_more_try() {
    let fake = imds(&["t1"], || credentials_json("AKIDIMDS", 6 * 3600));
    let endpoint = fake.url("");
    let fetched = fetch(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]).unwrap();
    assert_eq!(fetched.credentials.access_key_id(), "AKIDIMDS");
    let seen: Vec<_> = fake
        .seen()
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s.method,
                s.path,
                s.header("x-aws-ec2-metadata-token").unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "PUT /latest/api/token -",
            "GET /latest/meta-data/iam/security-credentials/ t1",
            "PUT /latest/api/token -",
            "GET /latest/meta-data/iam/security-credentials/ t2",
            "GET /latest/meta-data/iam/security-credentials/web-role t2",
        ]
    );
}

#[test]
fn imds_a_hanging_token_request_names_the_hop_limit() {
    let fake = Fake::start(|_, _| Reply::Hang);
    let endpoint = fake.url("");
    let started = Instant::now();
    let error = fetch(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]).unwrap_err();
    assert!(error.contains("hop limit"), "{error}");
    assert!(error.contains("EC2 instance metadata"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "timeouts are not retried"
    );
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn imds_without_a_role_or_with_a_failed_role() {
    let fake = Fake::start(|request, _| match request.path.as_str() {
        "/latest/api/token" => Reply::Answer(200, "t".into()),
        _ => Reply::Answer(404, "<html>not found</html>".into()),
    });
    let endpoint = fake.url("");
    let error = fetch(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]).unwrap_err();
    assert!(error.contains("no IAM role"), "{error}");

    let fake = imds(&[], || {
        r#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role"}"#.into()
    });
    let endpoint = fake.url("");
    let error = fetch(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]).unwrap_err();
    assert!(error.contains("AssumeRoleUnauthorizedAccess"), "{error}");
    let error = fetch(&[
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ])
    .unwrap_err();
    assert!(error.starts_with("no credentials"), "{error}");
}

#[test]
fn halves_of_two_identities_are_never_mixed() {
    let home = server::temp_dir("halves");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[default]\naws_secret_access_key = profile-secret\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/config"),
        "[default]\naws_access_key_id = AKIDCONFIG\n",
    )
    .unwrap();
    let home = home.to_str().unwrap();
    let error = fetch(&[("HOME", home), ("AWS_ACCESS_KEY_ID", "AKIDENV")]).unwrap_err();
    assert!(error.contains("only one is set"), "{error}");
    let error = fetch(&[("HOME", home)]).unwrap_err();
    assert!(error.contains("only one of aws_access_key_id"), "{error}");
    assert!(!error.contains("profile-secret"), "{error}");
}

#[test]
fn unsupported_profile_kinds_stop_rather_than_fall_through() {
    let home = server::temp_dir("assume-role");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/config"),
        "[profile web]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n[profile bare]\nregion = eu-west-1\n",
    )
    .unwrap();
    let home = home.to_str().unwrap();
    let error = fetch(&[("HOME", home), ("AWS_PROFILE", "web")]).unwrap_err();
    assert!(error.contains("role_arn"), "{error}");
    let error = fetch(&[("HOME", home), ("AWS_PROFILE", "bare")]).unwrap_err();
    assert!(error.contains("has no credentials"), "{error}");
}

/// A profile whose `credential_process` is `script`.
fn process_home(name: &str, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let home = server::temp_dir(name);
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    let path = home.join("creds helper.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        home.join(".aws/config"),
        format!(
            "[profile helper]\ncredential_process = \"{}\" --role x\n",
            path.display()
        ),
    )
    .unwrap();
    home.display().to_string()
}

#[test]
fn credential_process_prints_json() {
    let home = process_home(
        "process-ok",
        r#"[ "$1" = --role ] || exit 3
echo '{"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "secret-of-proc",
 "SessionToken": "token-of-proc", "Expiration": "2099-05-02T18:36:00+00:00"}'"#,
    );
    let fetched = fetch(&[("HOME", &home), ("AWS_PROFILE", "helper")]).unwrap();
    assert_eq!(fetched.credentials.access_key_id(), "AKIDPROC");
    assert_eq!(fetched.credentials.session_token(), Some("token-of-proc"));
    assert_eq!(fetched.expires.unwrap().year(), 2099);

    let home = process_home(
        "process-long-term",
        r#"echo '{"Version": 1, "AccessKeyId": "AKIDLONG", "SecretAccessKey": "s"}'"#,
    );
    let fetched = fetch(&[("HOME", &home), ("AWS_PROFILE", "helper")]).unwrap();
    assert_eq!(fetched.expires, None);
}

#[test]
fn credential_process_failing_or_printing_garbage() {
    for (script, needle) in [
        (
            "echo 'login expired: run sso login' >&2; exit 1",
            "login expired: run sso login",
        ),
        (
            "echo 'secret-of-garbage not json'",
            "did not print a JSON object",
        ),
        (
            r#"echo '{"Version": 2, "AccessKeyId": "A", "SecretAccessKey": "secret-of-v2"}'"#,
            "Version",
        ),
        (
            r#"echo '{"Version": 1, "AccessKeyId": "A", "SecretAccessKey": "secret-of-t", "Expiration": "tomorrow"}'"#,
            "RFC 3339",
        ),
    ] {
        let home = process_home("process-bad", script);
        let error = fetch(&[("HOME", &home), ("AWS_PROFILE", "helper")]).unwrap_err();
        assert!(
            error.starts_with("credential_process of profile helper"),
            "{error}"
        );
        assert!(error.contains(needle), "{script}: {error}");
        assert_no_secret(&error);
    }
}

fn post_upload(s: &TestServer) -> http::Response {
    http::send(
        &s.addr.to_string(),
        "POST",
        &format!("{}/api/uploads", s.origin()),
        &[("content-type", "application/x-www-form-urlencoded")],
        b"filename=a.png&type=image%2Fpng&size=5",
    )
    .unwrap()
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

/// A server signing for the local bucket of `bucket`, with credentials
/// from the container endpoint `fake`.
fn signing_server(bucket: &TestServer, fake: &Fake) -> TestServer {
    let endpoint = format!("{}/s3", bucket.origin());
    let uri = fake.url("/v1/credentials");
    TestServer::start(&[
        ("S3_BUCKET_NAME", "local"),
        ("S3_ENDPOINT", &endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri),
    ])
}

/// Polls `POST /api/uploads` until `done` says yes (at most 10 s).
fn upload_until(s: &TestServer, done: impl Fn(&http::Response) -> bool) -> http::Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = post_upload(s);
        if done(&response) || Instant::now() > deadline {
            return response;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn urls_never_outlive_credentials_that_expire_in_4_minutes() {
    let bucket = TestServer::start(&[]);
    let fake = Fake::start(|_, _| Reply::Answer(200, credentials_json("AKIDSHORT", 240)));
    let s = signing_server(&bucket, &fake);
    let response = upload_until(&s, |r| r.status == 201);
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let url = body["url"].as_str().unwrap();
    let expires: i64 = query_param(url, "X-Amz-Expires").unwrap().parse().unwrap();
    assert!(
        (170..=180).contains(&expires),
        "default 300 s capped: {expires}"
    );
    assert!(query_param(url, "X-Amz-Credential")
        .unwrap()
        .starts_with("AKIDSHORT"));
    let view: i64 = query_param(body["viewUrl"].as_str().unwrap(), "X-Amz-Expires")
        .unwrap()
        .parse()
        .unwrap();
    assert!(view <= 180, "{view}");
    // expiresAt is the URL's real end: its date plus X-Amz-Expires.
    let signed_at = query_param(url, "X-Amz-Date").unwrap();
    let expires_at = body["expiresAt"].as_str().unwrap();
    let at = presign::sigv4::AmzDate::parse(signed_at).unwrap().time()
        + time::Duration::seconds(expires);
    assert_eq!(expires_at, rfc3339(at));
    // The endpoint keeps handing back the same credentials: not an error,
    // and the same identity keeps signing.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(fake.seen().len() >= 2, "a refresh was tried");
    s.stop().unwrap();
}

#[test]
fn a_refresh_with_new_keys_signs_the_next_url_and_it_verifies() {
    // The bucket knows only the second identity.
    let bucket = TestServer::start(&[
        ("LOCAL_BUCKET_ACCESS_KEY_ID", "AKIDNEW"),
        ("LOCAL_BUCKET_SECRET_ACCESS_KEY", "secret-of-AKIDNEW"),
    ]);
    let fake = Fake::start(|_, i| match i {
        0 => Reply::Answer(200, credentials_json("AKIDOLD", 600)),
        _ => Reply::Answer(200, credentials_json("AKIDNEW", 6 * 3600)),
    });
    let s = signing_server(&bucket, &fake);
    let response = upload_until(&s, |r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        body["url"].as_str().is_some_and(|u| u.contains("AKIDNEW"))
    });
    assert_eq!(response.status, 201);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let url = body["url"].as_str().unwrap();
    assert_eq!(
        query_param(url, "X-Amz-Expires"),
        Some("300"),
        "no cap needed now"
    );
    assert_eq!(
        query_param(url, "X-Amz-Security-Token"),
        Some("token-of-AKIDNEW")
    );
    let mut headers: Vec<(&str, &str)> = body["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    headers.push(("content-length", "5"));
    let put = http::send(&bucket.addr.to_string(), "PUT", url, &headers, b"12345").unwrap();
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    s.stop().unwrap();
    bucket.stop().unwrap();
}

#[test]
fn credentials_about_to_expire_that_cannot_be_refreshed_mean_503() {
    let bucket = TestServer::start(&[]);
    // 125 s left: enough to start (a 60 s URL after the 60 s margin), then
    // every refresh fails.
    let fake = Fake::start(|_, i| match i {
        0 => Reply::Answer(200, credentials_json("AKIDDYING", 125)),
        _ => Reply::Answer(500, "agent down".into()),
    });
    let s = signing_server(&bucket, &fake);
    let first = upload_until(&s, |r| r.status == 201);
    assert_eq!(first.status, 201);
    let response = upload_until(&s, |r| r.status == 503);
    assert_eq!(response.status, 503);
    assert_eq!(response.header("retry-after"), Some("30"));
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["error"], "credentials_expiring");
    assert!(body["message"].as_str().unwrap().contains("expire at"));
    s.stop().unwrap();
}

/// The error `run` returns for a server configured by `env`.
fn start_error(env: &[(&str, &str)]) -> String {
    let config = presign::server::Config::load(&vars(env), Some("127.0.0.1:0")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let run = presign::server::run(listener, config, std::future::pending());
            tokio::time::timeout(Duration::from_secs(10), run).await
        })
        .expect("the start fails within 10 s")
        .unwrap_err()
        .to_string()
}

#[test]
fn a_failing_provider_stops_the_start() {
    let fake = Fake::start(|_, _| Reply::Answer(403, "Forbidden by policy".into()));
    let uri = fake.url("/v1/credentials");
    let error = start_error(&[
        ("HOME", "/nonexistent"),
        ("S3_BUCKET_NAME", "b"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
    ]);
    assert!(
        error.starts_with("container credentials from http://127.0.0.1:"),
        "{error}"
    );
    assert!(
        error.contains("403") && error.contains("Forbidden by policy"),
        "{error}"
    );
    assert!(!error.contains('\n'));

    // Credentials with 90 s left cannot sign a URL worth having.
    let fake = Fake::start(|_, _| Reply::Answer(200, credentials_json("AKIDLATE", 90)));
    let uri = fake.url("/v1/credentials");
    let error = start_error(&[
        ("HOME", "/nonexistent"),
        ("S3_BUCKET_NAME", "b"),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
    ]);
    assert!(error.contains("too soon to sign with"), "{error}");
    assert!(!error.contains("  "), "{error}");
}

#[test]
fn region_comes_from_imds_when_none_is_configured() {
    let fake = imds(&[], || credentials_json("AKIDREGION", 6 * 3600));
    let endpoint = fake.url("");
    let s = TestServer::start(&[
        ("S3_BUCKET_NAME", "photos"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
    ]);
    let response = upload_until(&s, |r| r.status == 201);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let url = body["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://photos.s3.eu-north-1.amazonaws.com/"),
        "{url}"
    );
    assert!(url.contains("%2Feu-north-1%2Fs3%2F"), "{url}");
    s.stop().unwrap();
}

/// moto's server mode serving IMDS on loopback (`.ci/run` starts it and
/// sets `MOTO_ENDPOINT`): a server that no one here wrote.
#[test]
#[ignore = "needs moto: run by .ci/run"]
fn imds_from_moto() {
    let endpoint = std::env::var("MOTO_ENDPOINT").unwrap_or("http://127.0.0.1:5123".into());
    let fetched = fetch(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint)]).unwrap();
    assert_eq!(fetched.credentials.access_key_id(), "test-key");
    assert!(fetched.expires.unwrap() > OffsetDateTime::now_utc());
    let s = TestServer::start(&[
        ("S3_BUCKET_NAME", "photos"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &endpoint),
    ]);
    let response = upload_until(&s, |r| r.status == 201);
    assert_eq!(response.status, 201);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let url = body["url"].as_str().unwrap();
    // moto says the instance is in us-east-1 and signs as test-key.
    assert!(
        url.starts_with("https://photos.s3.us-east-1.amazonaws.com/"),
        "{url}"
    );
    assert!(query_param(url, "X-Amz-Credential")
        .unwrap()
        .starts_with("test-key%2F"));
    assert_eq!(
        query_param(url, "X-Amz-Security-Token"),
        Some("test-session-token")
    );
    s.stop().unwrap();
}

#[test]
fn cli_profile_uses_the_same_chain_and_caps_the_url() {
    let in_4_min = rfc3339(OffsetDateTime::now_utc() + time::Duration::minutes(4));
    let home = process_home(
        "cli-profile",
        &format!(
            r#"echo '{{"Version": 1, "AccessKeyId": "AKIDCLI", "SecretAccessKey": "secret-of-cli", "SessionToken": "token-of-cli", "Expiration": "{in_4_min}"}}'"#
        ),
    );
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_presign"))
            .args(["url", "--bucket", "b", "--key", "k", "--expires", "3600"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    let output = run(&["--profile", "helper"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let url = String::from_utf8(output.stdout).unwrap();
    assert!(query_param(&url, "X-Amz-Credential")
        .unwrap()
        .starts_with("AKIDCLI%2F"));
    let expires: u32 = query_param(url.trim(), "X-Amz-Expires")
        .unwrap()
        .parse()
        .unwrap();
    assert!((170..=180).contains(&expires), "{expires}");
    assert!(stderr.contains("--expires 3600 capped"), "{stderr}");
    assert_no_secret(&stderr);

    let output = run(&["--profile", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--profile nope but no such profile"),
        "{stderr}"
    );
}

#[test]
fn the_banner_and_each_refresh_name_the_provider_and_expiry_never_a_secret() {
    use std::io::Read;
    let fake = Fake::start(|_, i| {
        // Ten minutes is inside the refresh window: a refresh follows at once.
        Reply::Answer(200, credentials_json(&format!("AKIDLOG{i}"), 600))
    });
    let dir = server::temp_dir("refresh-log");
    let uri = fake.url("/v1/credentials");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_presign"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", &dir)
        .env("S3_BUCKET_NAME", "photos")
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri)
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "secret-of-the-agent")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.seen().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stdout.contains(&format!("credentials from container endpoint {uri}")),
        "{stdout}"
    );
    assert!(stdout.contains("credentials: valid until 20"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "presign: credentials refreshed from container endpoint {uri}; valid until 20"
        )),
        "{stderr}"
    );
    for text in [&stdout, &stderr] {
        assert_no_secret(text);
        assert!(!text.contains("secret-of-the-agent"), "{text}");
    }
}

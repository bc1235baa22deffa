//! Byte-for-byte agreement with botocore, the AWS SDK for Python.
//!
//! ```text
//! tests/conformance/seaweedfs.sh install   # or `start`: puts botocore in target/conformance/venv
//! cargo test --test botocore -- --ignored
//! ```
//!
//! For a few dozen inputs at fixed times, tests/conformance/botocore_presign.py
//! presigns with botocore's own `S3SigV4QueryAuth` under a frozen clock (and,
//! with `--self-check`, proves that equal to `generate_presigned_url`). Our
//! URL must be the same string, and our verifier must accept botocore's.
//! The Python is `BOTOCORE_PYTHON`, else target/conformance/venv/bin/python;
//! the tests panic when it is missing rather than pass.

#[path = "common/url.rs"]
mod url;

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{AmzDate, Credentials, Signer, VerifyErrorKind};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use time::Duration;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// One presign input, in the shape botocore_presign.py reads.
#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    bucket: &'static str,
    key: String,
    region: &'static str,
    endpoint: &'static str,
    style: AddressingStyle,
    expires: u32,
    time: &'static str,
    access_key: &'static str,
    secret_key: &'static str,
    token: Option<&'static str>,
    params: Vec<(&'static str, &'static str)>,
    headers: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn bucket(&self) -> Bucket {
        Bucket::new(
            Endpoint::parse(self.endpoint).unwrap(),
            self.bucket,
            self.region,
            self.style,
        )
        .unwrap()
    }

    fn signer(&self) -> Signer {
        let mut credentials = Credentials::new(self.access_key, self.secret_key);
        if let Some(token) = self.token {
            credentials = credentials.with_session_token(token);
        }
        Signer::new(credentials, self.region, "s3")
    }

    fn time(&self) -> time::OffsetDateTime {
        AmzDate::parse(self.time).unwrap().time()
    }

    /// Our presigned URL and canonical request.
    fn ours(&self) -> (String, String) {
        let query: Vec<(&str, Option<&str>)> =
            self.params.iter().map(|&(n, v)| (n, Some(v))).collect();
        let request = ObjectRequest {
            method: self.method,
            key: &self.key,
            query: &query,
            headers: &self.headers,
        };
        let (presigned, trace) = self
            .bucket()
            .presign_traced(&self.signer(), &request, self.time(), self.expires)
            .unwrap();
        (presigned.url, trace.canonical_request)
    }

    /// The JSON input for botocore, with the addressing style we resolved
    /// (botocore and we fall back to path style by the same rules, but the
    /// comparison must not depend on that).
    fn json(&self) -> Value {
        let mut v = json!({
            "method": self.method,
            "bucket": self.bucket,
            "key": self.key,
            "region": self.region,
            "endpoint": self.endpoint,
            "path_style": self.bucket().style() == AddressingStyle::Path,
            "expires": self.expires,
            "time": self.time,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "params": self.params.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
            "headers": self.headers.iter().map(|&(n, v)| (n.to_owned(), json!(v)))
                .collect::<serde_json::Map<_, _>>(),
        });
        if let Some(token) = self.token {
            v["session_token"] = json!(token);
        }
        v
    }
}

/// What botocore produced for one input.
struct Botocore {
    url: String,
    canonical_request: String,
}

fn python() -> String {
    if let Ok(p) = std::env::var("BOTOCORE_PYTHON") {
        return p;
    }
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/conformance/venv/bin/python"
    );
    assert!(
        std::path::Path::new(p).exists(),
        "botocore is not installed: {p} is missing. Run tests/conformance/seaweedfs.sh install \
         (or start), or set BOTOCORE_PYTHON to a Python with botocore"
    );
    p.to_owned()
}

/// Runs botocore_presign.py --self-check on `cases`.
fn botocore(cases: &[Case]) -> Vec<Botocore> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/botocore_presign.py"
    );
    let input = Value::Array(cases.iter().map(Case::json).collect()).to_string();
    let mut child = Command::new(python())
        .arg(script)
        .arg("--self-check")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "botocore_presign.py failed ({}):\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains(" 0 differ"),
        "botocore self-check did not run: {stderr}"
    );
    eprintln!("{}", stderr.trim());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|o| Botocore {
            url: o["url"].as_str().unwrap().to_owned(),
            canonical_request: o["canonical_request"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// A few dozen inputs, each mixing the parts most likely to differ.
fn cases() -> Vec<Case> {
    let keys: Vec<String> = [
        "photo.jpg",
        "uploads/2024/01/a b.png",
        "+=&?#%~!*'(),;:@$[]",
        "ünïcödé/日本語/😀 🎉.png",
        "//double//slashes",
        "/leading",
        "dots/./../x/..",
        "trailing/",
        "tab\tand\u{7f}del",
        "percent%2Fliteral%25",
        "~tilde_under-dash.dot",
        "UPPER/Mixed/lower",
        "e\u{301}/\u{200b}",
        "query?x=1&y=2#frag",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([
        "x".repeat(300),
        (0..120)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join("/"),
    ])
    .collect();
    let endpoints: [(&str, AddressingStyle, &str); 7] = [
        ("http://127.0.0.1:8333", AddressingStyle::Path, "my-bucket"),
        (
            "http://localhost:9000",
            AddressingStyle::VirtualHosted,
            "my-bucket",
        ),
        (
            "https://s3.eu-west-3.amazonaws.com",
            AddressingStyle::VirtualHosted,
            "photos-2024",
        ),
        (
            "https://s3.amazonaws.com",
            AddressingStyle::Path,
            "My_Bucket",
        ),
        (
            "http://minio.internal:9000/base/path",
            AddressingStyle::Path,
            "b",
        ),
        (
            "https://objects.example.com",
            AddressingStyle::VirtualHosted,
            "dotted.bucket.name",
        ),
        (
            "http://[::1]:8333",
            AddressingStyle::VirtualHosted,
            "v6-bucket",
        ),
    ];
    let regions = ["us-east-1", "eu-west-3", "cn-north-1", "auto"];
    let times = [
        "20240102T030405Z",
        "20261129T000000Z",
        "20000229T235959Z",
        "20991231T235959Z",
    ];
    let expiries = [1, 60, 900, 3600, 604_800];
    let tokens = [
        None,
        Some("FwoGZXIvYXdzEJr//////////wEaDH+/token=="),
        Some("short-token"),
    ];
    let put_headers: [&[(&str, &str)]; 5] = [
        &[],
        &[("content-type", "image/png")],
        &[
            ("content-type", "image/jpeg"),
            ("content-length", "1048576"),
            ("if-none-match", "*"),
        ],
        &[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Cache-Control", "max-age=60,  public"),
        ],
        &[
            ("content-disposition", "attachment; filename=\"a  b.png\""),
            ("x-amz-meta-owner", "  padded   value  "),
            ("x-amz-meta-empty", ""),
            ("x-amz-meta-tabs", "\ta\t\tb\t"),
        ],
    ];
    let get_params: [&[(&str, &str)]; 4] = [
        &[],
        &[("response-content-type", "text/plain; charset=utf-8")],
        &[
            (
                "response-content-disposition",
                "attachment; filename=\"résumé 1.pdf\"",
            ),
            ("response-cache-control", "no-store"),
        ],
        &[("versionId", "3/L4kqtJl40Nr8X8gdRQBpUMLUo+=")],
    ];
    let methods = ["PUT", "GET", "HEAD", "DELETE"];

    let mut out = Vec::new();
    for i in 0..48 {
        let (endpoint, style, bucket) = endpoints[i % endpoints.len()];
        let method = methods[(i / 2) % methods.len()];
        out.push(Case {
            method,
            bucket,
            key: keys[i % keys.len()].clone(),
            region: regions[(i / 3) % regions.len()],
            endpoint,
            style,
            expires: expiries[(i / 5) % expiries.len()],
            time: times[(i / 7) % times.len()],
            access_key: if i % 4 == 3 {
                "ASIA+KEY=odd"
            } else {
                "AKIDEXAMPLE"
            },
            secret_key: SECRET,
            token: tokens[(i / 4) % tokens.len()],
            params: if method == "GET" {
                get_params[(i / 8) % get_params.len()].to_vec()
            } else {
                vec![]
            },
            headers: if method == "PUT" {
                put_headers[(i / 8) % put_headers.len()].to_vec()
            } else {
                vec![]
            },
        });
    }
    out
}

/// [`cases`] and botocore's answers, computed once for the tests sharing them.
fn cases_and_botocore() -> &'static (Vec<Case>, Vec<Botocore>) {
    static BOTH: std::sync::OnceLock<(Vec<Case>, Vec<Botocore>)> = std::sync::OnceLock::new();
    BOTH.get_or_init(|| {
        let cases = cases();
        let theirs = botocore(&cases);
        (cases, theirs)
    })
}

#[test]
#[ignore = "needs botocore: tests/conformance/seaweedfs.sh start installs it"]
fn our_urls_equal_botocores_byte_for_byte() {
    let (cases, theirs) = cases_and_botocore();
    let mut failures = Vec::new();
    for (case, theirs) in cases.iter().zip(theirs) {
        let (url, canonical) = case.ours();
        if url != theirs.url {
            failures.push(format!(
                "{case:?}\n  ours:     {url}\n  botocore: {}\n  our canonical request:\n{canonical}\n  \
                 botocore's:\n{}\n",
                theirs.url, theirs.canonical_request
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} URLs differ from botocore:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore = "needs botocore: tests/conformance/seaweedfs.sh start installs it"]
fn our_verifier_accepts_botocores_urls() {
    let (cases, theirs) = cases_and_botocore();
    let mut failures = Vec::new();
    for (case, theirs) in cases.iter().zip(theirs) {
        let verify = |now, signer: &Signer| {
            url::verify(case.method, &theirs.url, &case.headers, now, signer)
        };
        let signer = case.signer();
        let now = case.time() + Duration::seconds(1);
        if let Err(e) = verify(now, &signer) {
            failures.push(format!(
                "{case:?}\n  botocore: {}\n  refused: {e}\n  our canonical request:\n{}\n  \
                 botocore's:\n{}\n",
                theirs.url,
                e.trace()
                    .map(|t| t.canonical_request.as_str())
                    .unwrap_or("-"),
                theirs.canonical_request
            ));
            continue;
        }
        // And the verifier is not waving things through: the same URL is
        // refused under another secret, and once expired.
        let wrong = Signer::new(
            Credentials::new(case.access_key, "another-secret"),
            case.region,
            "s3",
        );
        let refused = verify(now, &wrong);
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(VerifyErrorKind::SignatureMismatch),
            "{case:?}"
        );
        let late = case.time() + Duration::seconds(i64::from(case.expires) + 1);
        let refused = verify(late, &signer);
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(VerifyErrorKind::Expired),
            "{case:?}"
        );
    }
    assert!(
        failures.is_empty(),
        "our verifier refused {} of {} botocore URLs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// botocore keeps the endpoint's spelling in the URL (`LocalHost`, `:80`,
/// `:443`) while signing the lower-cased host without a default port; we
/// normalise the URL itself. The signatures agree; only the authority's
/// spelling differs, and both forms reach the same server.
#[test]
#[ignore = "needs botocore: tests/conformance/seaweedfs.sh start installs it"]
fn endpoint_spelling_changes_the_url_not_the_signature() {
    let base = Case {
        method: "GET",
        bucket: "my-bucket",
        key: "k.txt".to_owned(),
        region: "us-east-1",
        endpoint: "",
        style: AddressingStyle::Path,
        expires: 60,
        time: "20240102T030405Z",
        access_key: "AKIDEXAMPLE",
        secret_key: SECRET,
        token: None,
        params: vec![],
        headers: vec![],
    };
    let spellings = [
        ("http://LocalHost:9000", "localhost:9000"),
        ("http://127.0.0.1:80", "127.0.0.1"),
        ("https://s3.amazonaws.com:443", "s3.amazonaws.com"),
    ];
    let cases: Vec<Case> = spellings
        .iter()
        .map(|&(endpoint, _)| Case {
            endpoint,
            ..base.clone()
        })
        .collect();
    let theirs = botocore(&cases);
    for ((case, theirs), (endpoint, normal)) in cases.iter().zip(&theirs).zip(spellings) {
        let (ours, _) = case.ours();
        let (our_authority, our_path, our_query) = url::split(&ours);
        let (their_authority, their_path, their_query) = url::split(&theirs.url);
        assert_eq!(our_authority, normal, "{endpoint}");
        assert_eq!(
            their_authority,
            endpoint.split_once("://").unwrap().1,
            "{endpoint}"
        );
        assert_eq!(
            (our_path, our_query),
            (their_path, their_query),
            "{endpoint}"
        );
    }
}

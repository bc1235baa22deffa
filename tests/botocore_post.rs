//! Browser POST forms: byte-for-byte agreement with botocore's
//! `generate_presigned_post`, and botocore's forms accepted by our local
//! bucket.
//!
//! ```text
//! tests/conformance/seaweedfs.sh install   # or `start`: puts botocore in target/conformance/venv
//! cargo test --test botocore_post -- --ignored
//! ```
//!
//! tests/conformance/botocore_presign_post.py asks a real botocore S3
//! client for each form, its clock frozen. Our URL, fields (names, values
//! and order) and policy text must be the same. The Python is
//! `BOTOCORE_PYTHON`, else target/conformance/venv/bin/python; the tests
//! panic when it is missing rather than pass.
#![cfg(feature = "server")]

#[path = "common/http.rs"]
mod http;
#[path = "common/post_form.rs"]
mod post_form;
#[path = "common/server.rs"]
mod server;

use presign::s3::{AddressingStyle, Bucket, Endpoint, PostRequest};
use presign::sigv4::{base64, AmzDate, Condition, Credentials, Signer};
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

/// One form to presign, in the shape botocore_presign_post.py reads.
#[derive(Debug, Clone)]
struct Case {
    bucket: String,
    key: String,
    region: &'static str,
    endpoint: String,
    style: AddressingStyle,
    expires: u32,
    time: String,
    access_key: &'static str,
    secret_key: &'static str,
    token: Option<&'static str>,
    fields: Vec<(String, String)>,
    conditions: Vec<Condition>,
}

impl Case {
    fn bucket(&self) -> Bucket {
        Bucket::new(
            Endpoint::parse(&self.endpoint).unwrap(),
            &self.bucket,
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

    /// Our form: URL, fields, decoded policy.
    fn ours(&self) -> (String, Vec<(String, String)>, String) {
        let fields: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = PostRequest {
            key: &self.key,
            fields: &fields,
            conditions: &self.conditions,
        };
        let time = AmzDate::parse(&self.time).unwrap().time();
        let post = self
            .bucket()
            .presign_post(&self.signer(), &request, time, self.expires)
            .unwrap();
        let policy = &post.fields.iter().find(|(n, _)| n == "policy").unwrap().1;
        let policy = String::from_utf8(base64::decode(policy).unwrap()).unwrap();
        (post.url, post.fields, policy)
    }

    fn json(&self) -> Value {
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .map(|c| match c {
                Condition::Eq { field, value } => {
                    let mut object = serde_json::Map::new();
                    object.insert(field.clone(), json!(value));
                    Value::Object(object)
                }
                Condition::StartsWith { field, prefix } => {
                    json!(["starts-with", format!("${field}"), prefix])
                }
                Condition::ContentLengthRange { min, max } => {
                    json!(["content-length-range", min, max])
                }
            })
            .collect();
        let mut v = json!({
            "bucket": self.bucket,
            "key": self.key,
            "region": self.region,
            "endpoint": self.endpoint,
            "path_style": self.bucket().style() == AddressingStyle::Path,
            "expires": self.expires,
            "time": self.time,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "fields": self.fields.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
            "conditions": conditions,
        });
        if let Some(token) = self.token {
            v["session_token"] = json!(token);
        }
        v
    }
}

/// What botocore produced for one input.
#[derive(Debug)]
struct Botocore {
    url: String,
    fields: Vec<(String, String)>,
    policy: String,
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

fn botocore(cases: &[Case]) -> Vec<Botocore> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/botocore_presign_post.py"
    );
    let input = Value::Array(cases.iter().map(Case::json).collect()).to_string();
    let mut child = Command::new(python())
        .arg(script)
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
        "botocore_presign_post.py failed ({}):\n{stderr}",
        out.status
    );
    eprintln!("{}", stderr.trim());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|o| Botocore {
            url: o["url"].as_str().unwrap().to_owned(),
            fields: o["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_owned(),
                        p[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            policy: o["policy"].as_str().unwrap().to_owned(),
        })
        .collect()
}

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// A few dozen forms, each mixing the parts most likely to differ.
fn cases() -> Vec<Case> {
    let keys = [
        "uploads/photo.png",
        "user/u1/${filename}",
        "${filename}",
        "quote\"d\\back/slash.png",
        "tab\tnew\nline\u{1}\u{7f}.png",
        "ünïcödé/日本語/😀 🎉.png",
        "\u{2028}line\u{2029}sep/${filename}",
        "+=&?#%~!*'(),;:@$[]{}",
    ];
    let field_sets: [&[(&str, &str)]; 4] = [
        &[],
        &[
            ("Content-Type", "image/png"),
            ("success_action_status", "201"),
        ],
        &[
            ("acl", "private"),
            ("x-amz-meta-note", "café \"ok\" \\ \u{8}\u{c}"),
        ],
        &[(
            "success_action_redirect",
            "https://example.com/done?a=1&b=2",
        )],
    ];
    let condition_sets: Vec<Vec<Condition>> = vec![
        vec![],
        vec![
            Condition::content_length_range(1, 10_485_760),
            Condition::eq("Content-Type", "image/png"),
            Condition::eq("success_action_status", "201"),
        ],
        vec![
            Condition::starts_with("Content-Type", "image/"),
            Condition::starts_with("x-amz-meta-note", ""),
            Condition::content_length_range(0, 5_368_709_120),
        ],
        vec![Condition::eq("x-amz-meta-ünï", "日本\u{1F600}")],
    ];
    let endpoints = [
        ("http://127.0.0.1:8333", AddressingStyle::Path),
        ("https://s3.amazonaws.com", AddressingStyle::VirtualHosted),
        ("https://s3.eu-west-3.amazonaws.com", AddressingStyle::Path),
        ("http://localhost:9000", AddressingStyle::Path),
    ];
    let regions = ["us-east-1", "eu-west-3", "ap-southeast-2"];
    let times = ["20260102T030405Z", "20151229T000000Z", "20240229T235959Z"];
    let expires = [1, 600, 3600, 604_800];
    let tokens = [None, Some("EXAMPLETOKEN"), Some("tok/with+slash=")];
    let mut out = Vec::new();
    for i in 0..40 {
        let (endpoint, style) = endpoints[i % endpoints.len()];
        out.push(Case {
            // Names S3 accepts (3 to 63 characters): botocore writes shorter
            // ones path style even when asked for virtual-hosted, we do not.
            bucket: ["examplebucket", "my-bucket", "b2b"][i % 3].to_owned(),
            key: keys[i % keys.len()].to_owned(),
            region: regions[(i / 2) % regions.len()],
            endpoint: endpoint.to_owned(),
            style,
            expires: expires[(i / 3) % expires.len()],
            time: times[(i / 5) % times.len()].to_owned(),
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: SECRET,
            token: tokens[(i / 7) % tokens.len()],
            fields: owned(field_sets[(i / 4) % field_sets.len()]),
            conditions: condition_sets[(i / 3) % condition_sets.len()].clone(),
        });
    }
    out
}

#[test]
#[ignore = "needs botocore: tests/conformance/seaweedfs.sh start installs it"]
fn our_forms_equal_botocores_byte_for_byte() {
    let cases = cases();
    let theirs = botocore(&cases);
    assert_eq!(theirs.len(), cases.len());
    let mut failures = Vec::new();
    for (case, theirs) in cases.iter().zip(&theirs) {
        let (url, fields, policy) = case.ours();
        if url != theirs.url || fields != theirs.fields || policy != theirs.policy {
            failures.push(format!(
                "{case:?}\n  ours:     {url}\n{fields:?}\n{policy}\n  botocore: {}\n{:?}\n{}\n",
                theirs.url, theirs.fields, theirs.policy
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} forms differ from botocore:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
#[ignore = "needs botocore: tests/conformance/seaweedfs.sh start installs it"]
fn our_local_bucket_accepts_botocores_forms() {
    let s = server::TestServer::start(&[]);
    let now = AmzDate::new(time::OffsetDateTime::now_utc());
    let local = |key: &str, fields: &[(&str, &str)], conditions: Vec<Condition>| Case {
        bucket: "local".to_owned(),
        key: key.to_owned(),
        region: "us-east-1",
        endpoint: format!("{}/s3", s.origin()),
        style: AddressingStyle::Path,
        expires: 300,
        time: now.as_str().to_owned(),
        access_key: server::KEY_ID,
        secret_key: server::SECRET,
        token: None,
        fields: owned(fields),
        conditions,
    };
    let cases = [
        local("uploads/a.png", &[], vec![]),
        local(
            "user/u1/${filename}",
            &[
                ("Content-Type", "image/png"),
                ("success_action_status", "201"),
            ],
            vec![
                Condition::content_length_range(1, 1000),
                Condition::starts_with("Content-Type", "image/"),
                Condition::eq("success_action_status", "201"),
            ],
        ),
        local(
            "ünï/quote\"d.png",
            &[("x-amz-meta-note", "café")],
            vec![Condition::eq("x-amz-meta-note", "café")],
        ),
    ];
    let theirs = botocore(&cases);
    for (case, form) in cases.iter().zip(&theirs) {
        assert_eq!(form.url, format!("{}/s3/local", s.origin()));
        let body = post_form::body(&form.fields, "photo.png", "image/png", b"0123456789");
        let r = http::send(
            &s.addr.to_string(),
            "POST",
            &form.url,
            &[("Content-Type", &post_form::content_type())],
            &body,
        )
        .unwrap();
        assert!(
            r.status == 201 || r.status == 204,
            "{case:?}: {} {}",
            r.status,
            r.text()
        );
        let key = case.key.replace("${filename}", "photo.png");
        assert_eq!(
            std::fs::read(s.dir.join(&key)).unwrap(),
            b"0123456789",
            "{key}"
        );
    }
    s.stop().unwrap();
}

//! Every case of the AWS SigV4 test suite (tests/vectors/aws-sigv4, see its
//! SOURCE.md), in header mode and in query (presign) mode, compared byte for
//! byte: canonical request, string to sign, signature and signed request.
//! Each presigned request is then fed back to our verifier.

use presign::sigv4::{
    payload_hash, verify_presigned, AmzDate, Credentials, Received, Request, Signer,
    SigningOptions, Trace, VerifyOptions,
};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use time::Duration;

struct Case {
    name: String,
    dir: PathBuf,
    context: Value,
    request_line_target: String,
    method: String,
    header_lines: Vec<String>,
    headers: Vec<(String, String)>,
    body: String,
}

impl Case {
    fn load(dir: &Path) -> Case {
        let context: Value = serde_json::from_str(&read(dir, "context.json")).unwrap();
        let raw = read(dir, "request.txt");
        let (head, body) = match raw.split_once("\n\n") {
            Some((head, body)) => (head.to_owned(), body.to_owned()),
            None => (raw.trim_end_matches('\n').to_owned(), String::new()),
        };
        let mut lines = head.lines();
        let request_line = lines.next().unwrap();
        // The request-target may hold raw spaces: the method ends at the
        // first space and the target at the last one.
        let (method, rest) = request_line.split_once(' ').unwrap();
        let target = &rest[..rest.rfind(' ').unwrap()];
        let header_lines: Vec<String> = lines.map(str::to_owned).collect();
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in &header_lines {
            if line.starts_with([' ', '\t']) {
                // A folded line continues the previous header's value.
                let last = headers.last_mut().unwrap();
                last.1.push('\n');
                last.1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').unwrap();
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            dir: dir.to_owned(),
            context,
            request_line_target: target.to_owned(),
            method: method.to_owned(),
            header_lines,
            headers,
            body,
        }
    }

    fn signer(&self) -> Signer {
        let c = &self.context["credentials"];
        let mut credentials = Credentials::new(
            c["access_key_id"].as_str().unwrap(),
            c["secret_access_key"].as_str().unwrap(),
        );
        if let Some(token) = c["token"].as_str() {
            credentials = credentials.with_session_token(token);
        }
        Signer::new(
            credentials,
            self.context["region"].as_str().unwrap(),
            self.context["service"].as_str().unwrap(),
        )
    }

    fn flag(&self, name: &str) -> bool {
        self.context[name].as_bool().unwrap_or(false)
    }

    fn options(&self) -> SigningOptions {
        SigningOptions {
            normalize_path: self.flag("normalize"),
            // The suite's harness double-encodes every path (SOURCE.md).
            double_encode_path: true,
            sign_session_token: !self.flag("omit_session_token"),
            content_sha256_header: self.flag("sign_body"),
        }
    }

    fn time(&self) -> time::OffsetDateTime {
        let ts = self.context["timestamp"].as_str().unwrap();
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn path_and_query(&self) -> (&str, &str) {
        self.request_line_target
            .split_once('?')
            .unwrap_or((&self.request_line_target, ""))
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    fn expected(&self, file: &str) -> String {
        read(&self.dir, file)
    }

    /// Compares our canonical request, string to sign, signature and signed
    /// request with the published `<mode>-*.txt` files, byte for byte.
    fn compare(
        &self,
        mode: &str,
        trace: &Trace,
        signature: &str,
        rendered: String,
        failures: &mut Vec<String>,
    ) {
        let checks = [
            ("canonical-request", trace.canonical_request.as_str()),
            ("string-to-sign", trace.string_to_sign.as_str()),
            ("signature", signature),
            ("signed-request", rendered.as_str()),
        ];
        for (what, ours) in checks {
            let theirs = self.expected(&format!("{mode}-{what}.txt"));
            if ours != theirs {
                failures.push(format!(
                    "{} ({mode} {what}):\n--- ours\n{ours}\n--- published\n{theirs}",
                    self.name
                ));
            }
        }
    }

    /// Request line, headers, a blank line, the body: the layout of
    /// `*-signed-request.txt`.
    fn render(&self, target: &str, extra_headers: &[(&str, String)]) -> String {
        let mut out = format!("{} {target} HTTP/1.1\n", self.method);
        for line in &self.header_lines {
            out.push_str(line);
            out.push('\n');
        }
        for (name, value) in extra_headers {
            out.push_str(&format!("{name}:{value}\n"));
        }
        out.push('\n');
        out.push_str(&self.body);
        out
    }
}

fn read(dir: &Path, file: &str) -> String {
    fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/aws-sigv4");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| Case::load(d)).collect()
}

#[test]
fn the_suite_has_all_38_published_cases() {
    assert_eq!(cases().len(), 38);
}

#[test]
fn header_mode_matches_every_case() {
    let mut failures = Vec::new();
    for case in cases() {
        let (path, query) = case.path_and_query();
        let headers = case.header_refs();
        let hash = payload_hash(case.body.as_bytes());
        let request = Request {
            method: &case.method,
            path,
            query,
            headers: &headers,
            payload_hash: &hash,
        };
        let signed = case
            .signer()
            .sign_headers(&request, case.time(), case.options());
        let trace = &signed.trace;
        let rendered = case.render(&case.request_line_target, &signed.headers);
        case.compare("header", trace, &signed.signature, rendered, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The order in which aws-c-auth writes the parameters in
/// `query-signed-request.txt` (any order is valid on the wire).
const SUITE_ORDER: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

#[test]
fn query_mode_matches_every_case_and_verifies() {
    let mut failures = Vec::new();
    for case in cases() {
        let (path, query) = case.path_and_query();
        let headers = case.header_refs();
        let hash = payload_hash(case.body.as_bytes());
        let request = Request {
            method: &case.method,
            path,
            query,
            headers: &headers,
            payload_hash: &hash,
        };
        let expires = case.context["expiration_in_seconds"].as_u64().unwrap() as u32;
        let signer = case.signer();
        let presigned = signer
            .presign(&request, case.time(), expires, case.options())
            .unwrap();
        let mut params: Vec<(&str, &str)> = presigned.params().collect();
        params.sort_by_key(|(name, _)| SUITE_ORDER.iter().position(|n| n == name).unwrap());
        let auth: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let separator = if query.is_empty() { '?' } else { '&' };
        let target = format!("{}{separator}{}", case.request_line_target, auth.join("&"));
        let rendered = case.render(&target, &[]);
        case.compare(
            "query",
            &presigned.trace,
            &presigned.signature,
            rendered,
            &mut failures,
        );

        // The published presigned request, read back by our verifier.
        let published = case.expected("query-signed-request.txt");
        let line = published.lines().next().unwrap();
        let published_target = &line[line.find(' ').unwrap() + 1..line.rfind(' ').unwrap()];
        let (path, query) = published_target.split_once('?').unwrap();
        let received = Received {
            method: &case.method,
            path,
            query,
            headers: &headers,
            payload_hash: &hash,
        };
        let options = VerifyOptions {
            max_clock_skew: Duration::minutes(15),
            signing: case.options(),
        };
        let now = case.time() + Duration::seconds(10);
        if let Err(e) = verify_presigned(&received, now, options, |_| Some(&signer)) {
            failures.push(format!("{} (verify): {e}", case.name));
        }
        let late = AmzDate::new(case.time()).time() + Duration::seconds(i64::from(expires) + 1);
        if verify_presigned(&received, late, options, |_| Some(&signer)).is_ok() {
            failures.push(format!("{} (verify): accepted after expiry", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

//! The `presign url` and `presign explain` commands, run as a user would.
#![cfg(feature = "server")]

use serde_json::Value;
use std::process::{Command, Output};

fn docs_example() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/s3-docs/examples.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["examples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "query")
        .unwrap()
        .clone()
}

fn presign(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presign"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn url_prints_the_documented_presigned_url_and_nothing_else() {
    let e = docs_example();
    let env = [
        ("AWS_ACCESS_KEY_ID", e["access_key_id"].as_str().unwrap()),
        (
            "AWS_SECRET_ACCESS_KEY",
            e["secret_access_key"].as_str().unwrap(),
        ),
    ];
    let expires = e["expires"].to_string();
    let out = presign(
        &[
            "url",
            "--bucket",
            e["bucket"].as_str().unwrap(),
            "--key",
            e["key"].as_str().unwrap(),
            "--endpoint",
            "https://s3.amazonaws.com",
            "--expires",
            &expires,
            "--time",
            e["time"].as_str().unwrap(),
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{}\n", e["presigned_url"].as_str().unwrap())
    );
    assert!(stderr(&out).is_empty());
}

#[test]
fn url_verbose_shows_canonical_request_on_stderr() {
    let out = presign(
        &[
            "url",
            "--bucket",
            "b",
            "--key",
            "a b.png",
            "--method",
            "put",
            "--region",
            "eu-west-1",
            "--endpoint",
            "http://127.0.0.1:9000",
            "--path-style",
            "--time",
            "20260101T000000Z",
            "--header",
            "Content-Type: image/png",
            "--query",
            "x-id=PutObject",
            "--verbose",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_SESSION_TOKEN", "t/+="),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout(&out);
    assert!(
        url.starts_with("http://127.0.0.1:9000/b/a%20b.png?x-id=PutObject&X-Amz-Algorithm="),
        "{url}"
    );
    assert!(url.contains("X-Amz-Security-Token=t%2F%2B%3D"), "{url}");
    assert_eq!(url.lines().count(), 1);
    let err = stderr(&out);
    assert!(
        err.contains("canonical request:\nPUT\n/b/a%20b.png\n"),
        "{err}"
    );
    assert!(
        err.contains("content-type:image/png\nhost:127.0.0.1:9000\n"),
        "{err}"
    );
    assert!(err.contains(
        "string to sign:\nAWS4-HMAC-SHA256\n20260101T000000Z\n20260101/eu-west-1/s3/aws4_request\n"
    ));
}

#[test]
fn explain_shows_what_is_signed_and_checks_the_signature() {
    let e = docs_example();
    let url = e["presigned_url"].as_str().unwrap();
    let secret = e["secret_access_key"].as_str().unwrap();
    let id = e["access_key_id"].as_str().unwrap();

    let out = presign(
        &["explain", url],
        &[("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(report.contains(&format!(
        "canonical request:\n{}\n",
        e["canonical_request"].as_str().unwrap()
    )));
    assert!(report.contains(&format!(
        "string to sign:\n{}\n",
        e["string_to_sign"].as_str().unwrap()
    )));
    assert!(
        report.contains("expires:         2013-05-25 00:00:00 UTC (86400 s; expired)"),
        "{report}"
    );
    assert!(report.contains("signature matches"), "{report}");

    let tampered = url.replace("/test.txt", "/test2.txt");
    let out = presign(
        &["explain", &tampered],
        &[("AWS_ACCESS_KEY_ID", id), ("AWS_SECRET_ACCESS_KEY", secret)],
    );
    assert_eq!(out.status.code(), Some(1));
    let report = stdout(&out);
    assert!(report.contains("does NOT match"), "{report}");
    assert!(
        report.contains("canonical request:\nGET\n/test2.txt\n"),
        "{report}"
    );

    let out = presign(&["explain", url], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("not checked"));
}

#[test]
fn explain_asks_for_signed_headers_it_was_not_given() {
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    let out = presign(
        &[
            "url",
            "--bucket",
            "b",
            "--key",
            "k",
            "--method",
            "PUT",
            "--header",
            "content-type: image/png",
        ],
        &env,
    );
    let url = stdout(&out).trim().to_owned();
    let out = presign(&["explain", &url, "--method", "PUT"], &env);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--header 'content-type: VALUE'"),
        "{}",
        stderr(&out)
    );
    let out = presign(
        &[
            "explain",
            &url,
            "--method",
            "PUT",
            "--header",
            "content-type: image/png",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("signature matches"));
}

#[test]
fn bad_arguments_are_one_line_naming_the_argument_and_exit_2() {
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ];
    // `presign url --bucket b --key k` and one argument more.
    let url =
        |extra: &[&'static str]| [&["url", "--bucket", "b", "--key", "k"][..], extra].concat();
    for (args, needle) in [
        (vec!["url", "--key", "k"], "--bucket"),
        (vec!["url", "--bucket", "b"], "--key"),
        (url(&["--expires", "0"]), "--expires"),
        (url(&["--expires", "604801"]), "--expires"),
        (url(&["--expires", "soon"]), "--expires"),
        (url(&["--time", "2013-05-24"]), "--time"),
        (url(&["--method", "PATCH"]), "--method"),
        (url(&["--region", "Bad Region"]), "--region"),
        (url(&["--endpoint", "s3.local"]), "--endpoint"),
        (vec!["url", "--bucket", "b/c", "--key", "k"], "--bucket"),
        (url(&["--header", "nocolon"]), "--header"),
        (url(&["--query", "=v"]), "--query"),
        (url(&["--header", "Host: x"]), "--header"),
        (url(&["--query", "X-Amz-Date=1"]), "--query"),
        (url(&["--bogus"]), "--bogus"),
        (vec!["url", "--bucket", "b", "--key"], "--key"),
        (vec!["explain"], "URL"),
        (vec!["explain", "ftp://x/y"], "http"),
        (
            vec!["explain", "https://b.s3.amazonaws.com/k?a=1"],
            "not a presigned URL",
        ),
    ] {
        let out = presign(&args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
    let out = presign(&["url", "--bucket", "b", "--key", "k"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("AWS_SECRET_ACCESS_KEY"));
    let out = presign(&["bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = presign(&["url", "--help"], &[]);
    assert!(out.status.success() && stdout(&out).contains("presign url"));
}

fn post_env() -> [(&'static str, &'static str); 2] {
    [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
    ]
}

#[test]
fn post_prints_a_form_our_verifier_accepts() {
    use presign::sigv4::{verify_post, Credentials, PostForm, Signer};
    let args = [
        "post",
        "--bucket",
        "examplebucket",
        "--key-prefix",
        "user/u1/",
        "--content-type-prefix",
        "image/",
        "--min-bytes",
        "1",
        "--max-bytes",
        "1000",
        "--field",
        "success_action_status=201",
        "--field",
        "x-amz-meta-note=\"quoted\" \\ café",
        "--endpoint",
        "http://127.0.0.1:8333",
        "--path-style",
        "--time",
        "20260102T030405Z",
        "--expires",
        "600",
    ];
    let out = presign(&args, &post_env());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["url"], "http://127.0.0.1:8333/examplebucket");
    assert_eq!(json["expiresAt"], "2026-01-02T03:14:05Z");
    assert_eq!(json["fields"]["key"], "user/u1/${filename}");
    assert_eq!(json["fields"]["Content-Type"], "image/");
    // The order the form must send them in, read off the text.
    let names = [
        "Content-Type",
        "success_action_status",
        "x-amz-meta-note",
        "key",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "policy",
        "x-amz-signature",
    ];
    let at: Vec<usize> = names
        .iter()
        .map(|n| text.find(&format!("\"{n}\":")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");

    let fields: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            let value = json["fields"][n].as_str().unwrap();
            let value = if *n == "Content-Type" {
                "image/png"
            } else {
                value
            };
            ((*n).to_owned(), value.to_owned())
        })
        .collect();
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let [(_, id), (_, secret)] = post_env();
    let signer = Signer::new(Credentials::new(id, secret), "us-east-1", "s3");
    let form = PostForm {
        bucket: "examplebucket",
        fields: &fields,
        filename: Some("a.png"),
    };
    let now = time::macros::datetime!(2026-01-02 03:10 UTC);
    let verified = verify_post(&form, now, |_| Some(&signer)).unwrap();
    assert_eq!(verified.key, "user/u1/a.png");
    assert_eq!(verified.length_range, Some((1, 1000)));

    let out = presign(&[&args[..], &["--html"]].concat(), &post_env());
    assert!(out.status.success(), "{}", stderr(&out));
    let html = stdout(&out);
    assert!(html.starts_with(
        "<form action=\"http://127.0.0.1:8333/examplebucket\" method=\"post\" enctype=\"multipart/form-data\">"
    ));
    assert!(html.contains(
        "<input type=\"hidden\" name=\"x-amz-meta-note\" value=\"&quot;quoted&quot; \\ café\">"
    ));
    let file = html.find("name=\"file\"").unwrap();
    assert!(html.rfind("type=\"hidden\"").unwrap() < file);
    assert!(html.find("name=\"x-amz-signature\"").unwrap() < file);
}

#[test]
fn post_bad_arguments_name_the_argument_and_exit_2() {
    let post =
        |extra: &[&'static str]| [&["post", "--bucket", "b", "--key", "k"][..], extra].concat();
    for (args, needle) in [
        (vec!["post", "--bucket", "b"], "--key or --key-prefix"),
        (post(&["--key-prefix", "p/"]), "--key or --key-prefix"),
        (
            post(&["--content-type", "a/b", "--content-type-prefix", "a/"]),
            "--content-type",
        ),
        (
            post(&["--min-bytes", "10", "--max-bytes", "9"]),
            "--min-bytes",
        ),
        (post(&["--max-bytes", "lots"]), "--max-bytes"),
        (post(&["--field", "novalue"]), "--field"),
        (post(&["--field", "key=x"]), "--field key"),
        (post(&["--field", "X-Amz-Date=x"]), "--field X-Amz-Date"),
        (post(&["--field", "a=1", "--field", "A=2"]), "--field A"),
        (post(&["--expires", "0"]), "--expires"),
        (post(&["--expires", "604801"]), "--expires"),
        (post(&["--region", "eu_west_1"]), "--region"),
        (post(&["--time", "20261301T000000Z"]), "--time"),
        (post(&["--endpoint", "ftp://s3.local"]), "--endpoint"),
        (vec!["post", "--bucket", "b c", "--key", "k"], "--bucket"),
        (vec!["post", "--key", "k"], "--bucket"),
    ] {
        let out = presign(&args, &post_env());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A region the server's configuration refuses at start is refused by
/// `url` and `post` too, with the same rule and the value in the message,
/// before any credentials are looked for; one it accepts is signed for.
#[test]
fn regions_are_refused_by_the_servers_rule() {
    use presign::server::{Config, Vars};
    let server_says = |region: &str| {
        let env = [("HOME", "/nonexistent"), ("AWS_REGION", region)]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        Config::load(&Vars::new(env, None), None).map_err(|e| e.to_string())
    };
    for bad in [
        "Bad Region",
        "EU-WEST-1",
        "eu_west_1",
        "x.evil.example#",
        "eu-west-1\"",
        "a/b",
    ] {
        let rule = server_says(bad).expect_err(bad);
        let rule = rule.strip_prefix("AWS_REGION=").expect(&rule);
        assert!(
            rule.starts_with(&format!("{bad:?} is not a region name: lower-case letters")),
            "{rule}"
        );
        for command in ["url", "post"] {
            let args = [command, "--bucket", "b", "--key", "k", "--region", bad];
            // No credentials in the environment: the region goes first.
            let out = presign(&args, &[]);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert_eq!(
                stderr(&out),
                format!("presign: --region {rule}\n"),
                "{args:?}"
            );
            assert!(out.stdout.is_empty(), "{args:?}");
        }
    }
    // The server reads an empty AWS_REGION as unset; an empty --region is
    // refused by the same rule.
    let out = presign(&["url", "--bucket", "b", "--key", "k", "--region="], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("presign: --region \"\" is not a region name"));
    for good in ["eu-west-1", "us-gov-west-1"] {
        assert!(server_says(good).is_ok(), "{good}");
        for command in ["url", "post"] {
            let args = [command, "--bucket", "b", "--key", "k", "--region", good];
            let out = presign(&args, &post_env());
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            assert!(
                stdout(&out).contains(&format!("%2F{good}%2Fs3%2Faws4_request"))
                    || stdout(&out).contains(&format!("/{good}/s3/aws4_request")),
                "{args:?}: {}",
                stdout(&out)
            );
        }
    }
}

/// `--expires` is refused outside the library's range with its own
/// words, naming the value.
#[test]
fn expiries_are_refused_by_the_librarys_rule() {
    for (raw, says) in [
        (
            "0",
            "--expires: expiry of 0 seconds is outside 1..=604800: presigned URLs live at most 7 days",
        ),
        (
            "604801",
            "--expires: expiry of 604801 seconds is outside 1..=604800: presigned URLs live at most 7 days",
        ),
        (
            "-1",
            "--expires -1: expected a whole number of seconds from 1 to 604800",
        ),
        (
            "99999999999",
            "--expires 99999999999: expected a whole number of seconds from 1 to 604800",
        ),
    ] {
        for command in ["url", "post"] {
            let args = [command, "--bucket", "b", "--key", "k", "--expires", raw];
            let out = presign(&args, &[]);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            assert!(
                stderr(&out).starts_with(&format!("presign: {says}")),
                "{args:?}: {}",
                stderr(&out)
            );
        }
    }
}

//! Values that cannot work are refused at start with one line naming the
//! variable: numbers out of range, URLs with paths or users, short tokens,
//! region names that are not region names, key prefixes no key can have.
#![cfg(feature = "server")]

use presign::server::{Config, Vars};

fn load(pairs: &[(&str, &str)]) -> Result<Config, String> {
    let env = pairs
        .iter()
        .chain(&[("HOME", "/nonexistent")])
        .map(|(k, v)| (k.to_string(), v.to_string()));
    Config::load(&Vars::new(env, None), None).map_err(|e| e.to_string())
}

fn refused(pairs: &[(&str, &str)], needle: &str) {
    let error = load(pairs).expect_err(&format!("{pairs:?} must be refused"));
    assert!(error.contains(needle), "{pairs:?}: {error}");
    assert!(!error.contains('\n'), "one line: {error}");
}

#[test]
fn numbers_outside_what_can_work_are_refused() {
    for (name, bad) in [
        ("HEADER_READ_TIMEOUT_SECONDS", "18446744073709551615"),
        ("HEADER_READ_TIMEOUT_SECONDS", "0"),
        ("BODY_READ_TIMEOUT_SECONDS", "0"),
        ("WRITE_TIMEOUT_SECONDS", "0"),
        ("WRITE_TIMEOUT_SECONDS", "3601"),
        ("SHUTDOWN_GRACE_SECONDS", "99999999999"),
        ("MAX_CONNECTIONS", "0"),
        ("MAX_CONNECTIONS", "2305843009213693952"),
        ("MAX_CONNECTIONS_PER_IP", "0"),
        ("WORKER_THREADS", "0"),
        ("WORKER_THREADS", "100000"),
        ("RATE_LIMIT_PER_MINUTE", "-1"),
        ("BODY_MIN_BYTES_PER_SECOND", "lots"),
    ] {
        refused(&[(name, bad)], name);
    }
    let config = load(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "3600"),
        ("MAX_CONNECTIONS", "65536"),
        ("WORKER_THREADS", "256"),
        ("SHUTDOWN_GRACE_SECONDS", "0"),
        ("BODY_MIN_BYTES_PER_SECOND", "0"),
    ])
    .unwrap();
    assert_eq!(config.limits.max_connections, 65536);
    assert_eq!(config.limits.worker_threads, 256);
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let limits = load(&[]).unwrap().limits;
    assert_eq!(limits.max_connections, 1024);
    assert_eq!(limits.max_connections_per_ip, 64);
    assert_eq!(limits.header_read_timeout.as_secs(), 10);
    assert_eq!(limits.body_read_timeout.as_secs(), 10);
    assert_eq!(limits.body_min_bytes_per_second, 1024);
    assert_eq!(limits.write_timeout.as_secs(), 30);
    assert_eq!(limits.worker_threads, 1);
}

#[test]
fn public_url_must_be_an_origin() {
    for bad in [
        "not a url",
        "example.com",
        "ftp://example.com",
        "https://example.com/?x=1",
        "https://example.com/app",
        "https://user:pass@example.com",
    ] {
        refused(&[("PUBLIC_URL", bad)], "PUBLIC_URL");
    }
    let error = load(&[("PUBLIC_URL", "https://user:hunter2@example.com")]).unwrap_err();
    assert!(!error.contains("hunter2"), "{error}");
    let config = load(&[("PUBLIC_URL", "https://Uploads.Example.com:443/")]).unwrap();
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://uploads.example.com")
    );
}

#[test]
fn allowed_origins_are_origins_as_browsers_write_them() {
    refused(
        &[("ALLOWED_ORIGINS", "https://a.example/app")],
        "ALLOWED_ORIGINS",
    );
    refused(&[("ALLOWED_ORIGINS", "a.example")], "ALLOWED_ORIGINS");
    let config = load(&[(
        "ALLOWED_ORIGINS",
        "https://A.example/, http://b.example:8080",
    )])
    .unwrap();
    assert_eq!(
        config.allowed_origins,
        ["https://a.example", "http://b.example:8080"]
    );
}

#[test]
fn allowed_hosts_are_names_without_ports() {
    for bad in ["example.com:8080", "https://example.com", "a b", "[::1"] {
        refused(&[("ALLOWED_HOSTS", bad)], "ALLOWED_HOSTS");
    }
    let config = load(&[("ALLOWED_HOSTS", "Uploads.Example.com, [::2]")]).unwrap();
    assert_eq!(config.allowed_hosts, ["uploads.example.com", "[::2]"]);
}

#[test]
fn short_api_tokens_are_refused() {
    refused(&[("API_TOKEN", "x")], "API_TOKEN");
    refused(&[("API_TOKEN", &"a".repeat(31))], "at least 32");
    refused(
        &[("API_TOKEN", &format!("{} b", "a".repeat(32)))],
        "API_TOKEN",
    );
    assert!(load(&[("API_TOKEN", &"a".repeat(32))]).is_ok());
}

#[test]
fn a_region_is_lower_case_letters_digits_and_dashes() {
    for bad in [
        "x.evil.example#",
        "eu-west-1\"",
        "EU-WEST-1",
        "eu west",
        "a/b",
    ] {
        refused(&[("AWS_REGION", bad)], "AWS_REGION");
    }
    assert!(load(&[("AWS_REGION", "eu-west-1")]).is_ok());
}

#[test]
fn key_prefixes_that_make_unstorable_keys_are_refused() {
    let long_segment = format!("{}/", "a".repeat(300));
    for bad in [
        "a//",
        ".presign-tmp/",
        "a/\tb/",
        "/abs/",
        "a/../",
        long_segment.as_str(),
        "a\\b/",
    ] {
        refused(&[("UPLOAD_KEY_PREFIX", bad)], "UPLOAD_KEY_PREFIX");
    }
    for good in ["uploads/", "photos", "a/b/c/", "ünï/"] {
        assert!(load(&[("UPLOAD_KEY_PREFIX", good)]).is_ok(), "{good:?}");
    }
}

#[test]
fn userinfo_in_s3_endpoint_is_refused_without_echoing_it() {
    let error = load(&[
        ("S3_BUCKET_NAME", "b"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("S3_ENDPOINT", "http://admin:hunter2@127.0.0.1:9000"),
    ])
    .unwrap_err();
    assert!(error.contains("S3_ENDPOINT"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn resizing_is_off_unless_asked_for_and_its_numbers_are_ranged() {
    assert_eq!(load(&[]).unwrap().resize, None);
    assert_eq!(
        load(&[("UPLOAD_RESIZE_MAX_PIXELS", "0")]).unwrap().resize,
        None
    );
    let resize = load(&[("UPLOAD_RESIZE_MAX_PIXELS", "4000000")])
        .unwrap()
        .resize
        .unwrap();
    assert_eq!((resize.max_pixels, resize.quality_percent), (4_000_000, 85));
    refused(&[("UPLOAD_RESIZE_MAX_PIXELS", "100")], "below 4096");
    refused(
        &[("UPLOAD_RESIZE_MAX_PIXELS", "200000001")],
        "UPLOAD_RESIZE_MAX_PIXELS",
    );
    refused(&[("UPLOAD_RESIZE_QUALITY", "0")], "UPLOAD_RESIZE_QUALITY");
    refused(&[("UPLOAD_RESIZE_QUALITY", "101")], "UPLOAD_RESIZE_QUALITY");
}

//! Configuration precedence (environment > `.env` > AWS profile files)
//! and the one-line message of each mistake.
#![cfg(feature = "server")]

#[path = "common/server.rs"]
mod server;

use presign::server::config::Storage;
use presign::server::{Config, Vars};

fn vars(pairs: &[(&str, &str)], dotenv: Option<&str>) -> Vars {
    Vars::new(
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        dotenv,
    )
}

/// An AWS home with a credentials and a config file.
fn aws_home() -> std::path::PathBuf {
    let home = server::temp_dir("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n\n\
         [dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-secret\naws_session_token = dev-token\n",
    )
    .unwrap();
    std::fs::write(
        home.join(".aws/config"),
        "[default]\nregion = eu-central-1\n[profile dev]\nregion = ap-south-1\n",
    )
    .unwrap();
    home
}

fn s3(config: &Config) -> (&presign::s3::Bucket, &presign::sigv4::Credentials) {
    match &config.storage {
        Storage::S3 {
            bucket,
            credentials,
        } => (
            bucket,
            credentials
                .static_credentials()
                .expect("static credentials from the environment or a profile"),
        ),
        other => panic!("expected S3 storage, got {other:?}"),
    }
}

#[test]
fn environment_beats_dotenv_beats_profile_files() {
    let home = aws_home();
    let home = home.to_str().unwrap();
    let dotenv = "S3_BUCKET_NAME=from-dotenv\nAWS_REGION=us-west-2\nUPLOAD_MAX_BYTES=2048\n";

    let config = Config::load(&vars(&[("HOME", home)], Some(dotenv)), None).unwrap();
    let (bucket, credentials) = s3(&config);
    assert_eq!(bucket.name(), "from-dotenv");
    assert_eq!(
        bucket.region(),
        "us-west-2",
        ".env region over the config file"
    );
    assert_eq!(
        credentials.access_key_id(),
        "AKIDFILE",
        "profile file when nothing else says"
    );
    assert_eq!(config.policy.max_bytes, 2048);

    let env = [
        ("HOME", home),
        ("S3_BUCKET_NAME", "from-env"),
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
    ];
    let config = Config::load(&vars(&env, Some(dotenv)), None).unwrap();
    let (bucket, credentials) = s3(&config);
    assert_eq!(bucket.name(), "from-env");
    assert_eq!(credentials.access_key_id(), "AKIDENV");
    assert_eq!(credentials.session_token(), None);

    let config = Config::load(
        &vars(
            &[
                ("HOME", home),
                ("S3_BUCKET_NAME", "b"),
                ("AWS_PROFILE", "dev"),
            ],
            None,
        ),
        None,
    )
    .unwrap();
    let (bucket, credentials) = s3(&config);
    assert_eq!(credentials.access_key_id(), "AKIDDEV");
    assert_eq!(credentials.session_token(), Some("dev-token"));
    assert_eq!(bucket.region(), "ap-south-1");
}

#[test]
fn file_locations_can_be_overridden() {
    let home = aws_home();
    let elsewhere = server::temp_dir("aws-files");
    std::fs::write(
        elsewhere.join("creds"),
        "[default]\naws_access_key_id=AKIDELSEWHERE\naws_secret_access_key=s\n",
    )
    .unwrap();
    let creds = elsewhere.join("creds");
    let env = [
        ("HOME", home.to_str().unwrap()),
        ("S3_BUCKET_NAME", "b"),
        ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
        ("AWS_DEFAULT_REGION", "sa-east-1"),
    ];
    let config = Config::load(&vars(&env, None), None).unwrap();
    let (bucket, credentials) = s3(&config);
    assert_eq!(credentials.access_key_id(), "AKIDELSEWHERE");
    assert_eq!(
        bucket.region(),
        "sa-east-1",
        "AWS_DEFAULT_REGION over the config file"
    );
}

#[test]
fn custom_endpoints_default_to_path_style() {
    let env = [
        ("HOME", "/nonexistent"),
        ("S3_BUCKET_NAME", "b"),
        ("AWS_ACCESS_KEY_ID", "a"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("S3_ENDPOINT", "http://127.0.0.1:9000"),
    ];
    let config = Config::load(&vars(&env, None), None).unwrap();
    assert_eq!(s3(&config).0.origin(), "http://127.0.0.1:9000");
    let summary = config.summary();
    assert!(
        !summary.contains('s') || !summary.contains("AWS_SECRET"),
        "{summary}"
    );
    assert!(
        !format!("{config:?}").contains("\"s\""),
        "Debug must not show the secret"
    );
}

#[test]
fn no_configuration_means_the_local_bucket() {
    let config = Config::load(&vars(&[("HOME", "/nonexistent")], None), None).unwrap();
    assert!(matches!(
        config.storage,
        Storage::Local {
            generated_credentials: true,
            ..
        }
    ));
    assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(config.policy.expires_seconds, 300);
    assert_eq!(config.policy.max_bytes, 10 * 1024 * 1024);
    assert!(config.summary().contains("local bucket"));
    let config = Config::load(&vars(&[("HOST", "0.0.0.0"), ("PORT", "8080")], None), None).unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:8080");
}

#[test]
fn each_mistake_gets_one_line_saying_what_to_fix() {
    let home = aws_home();
    let home = home.to_str().unwrap();
    let empty_home = server::temp_dir("empty-home");
    let empty_home = empty_home.to_str().unwrap();
    for (env, needle) in [
        // With instance metadata allowed, IMDS is the last provider and is
        // asked at start; without it, nothing is left.
        (
            vec![
                ("HOME", empty_home),
                ("S3_BUCKET_NAME", "b"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ],
            "no credentials",
        ),
        (vec![("HOME", home), ("PORT", "eighty")], "PORT"),
        (
            vec![("HOME", home), ("UPLOAD_MAX_BYTES", "10MB")],
            "UPLOAD_MAX_BYTES",
        ),
        (
            vec![("HOME", home), ("UPLOAD_EXPIRES_SECONDS", "604801")],
            "7 days",
        ),
        (
            vec![("HOME", home), ("UPLOAD_EXPIRES_SECONDS", "0")],
            "UPLOAD_EXPIRES_SECONDS",
        ),
        (
            vec![("HOME", home), ("AWS_PROFILE", "nope")],
            "AWS_PROFILE=nope",
        ),
        (
            vec![
                ("HOME", home),
                ("S3_BUCKET_NAME", "b"),
                ("S3_ENDPOINT", "minio:9000"),
            ],
            "S3_ENDPOINT",
        ),
        (
            vec![("HOME", home), ("S3_BUCKET_NAME", "bad/name")],
            "S3_BUCKET_NAME",
        ),
        (
            vec![("HOME", home), ("S3_FORCE_PATH_STYLE", "maybe")],
            "S3_FORCE_PATH_STYLE",
        ),
        (
            vec![("HOME", home), ("UPLOAD_ALLOWED_TYPES", "png")],
            "UPLOAD_ALLOWED_TYPES",
        ),
        (
            vec![("HOME", home), ("LOCAL_BUCKET_ACCESS_KEY_ID", "only-half")],
            "LOCAL_BUCKET_SECRET_ACCESS_KEY",
        ),
        (
            vec![("HOME", home), ("RATE_LIMIT_PER_MINUTE", "-1")],
            "RATE_LIMIT_PER_MINUTE",
        ),
        // A '/' would split the credential scope: no URL could verify.
        (
            vec![("HOME", home), ("AWS_REGION", "eu/west")],
            "AWS_REGION",
        ),
        (
            vec![
                ("HOME", home),
                ("S3_BUCKET_NAME", "b"),
                ("AWS_ACCESS_KEY_ID", "AK/ID"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
            ],
            "AWS_ACCESS_KEY_ID",
        ),
        (
            vec![
                ("HOME", home),
                ("LOCAL_BUCKET_ACCESS_KEY_ID", "AK/ID"),
                ("LOCAL_BUCKET_SECRET_ACCESS_KEY", "s"),
            ],
            "LOCAL_BUCKET_ACCESS_KEY_ID",
        ),
    ] {
        let error = Config::load(&vars(&env, None), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains(needle), "{env:?}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
    let error = Config::load(&vars(&[("HOME", home)], None), Some("localhost")).unwrap_err();
    assert!(error.to_string().contains("IP:PORT"));
}

#[test]
fn svg_is_refused_unless_explicitly_allowed() {
    let config = Config::load(&vars(&[("HOME", "/nonexistent")], None), None).unwrap();
    assert!(!config
        .policy
        .allowed_types
        .iter()
        .any(|t| t.contains("svg")));
    assert!(config.policy.active_types().is_empty());
    let config = Config::load(
        &vars(
            &[("UPLOAD_ALLOWED_TYPES", "image/png, image/svg+xml")],
            None,
        ),
        None,
    )
    .unwrap();
    assert_eq!(config.policy.active_types(), ["image/svg+xml"]);
}

#[test]
fn access_log_is_plain_by_default_json_or_off_on_request() {
    use presign::server::AccessLogFormat;
    let format = |value: Option<&str>| {
        let mut pairs = vec![("HOME", "/nonexistent")];
        pairs.extend(value.map(|v| ("ACCESS_LOG", v)));
        Config::load(&vars(&pairs, None), None).map(|c| c.access_log)
    };
    assert_eq!(format(None), Ok(AccessLogFormat::Plain));
    for (value, expected) in [
        ("on", AccessLogFormat::Plain),
        ("plain", AccessLogFormat::Plain),
        ("JSON", AccessLogFormat::Json),
        ("off", AccessLogFormat::Off),
        ("false", AccessLogFormat::Off),
    ] {
        assert_eq!(format(Some(value)), Ok(expected), "{value}");
    }
    let message = format(Some("yaml")).unwrap_err().to_string();
    assert!(
        message.contains("ACCESS_LOG") && message.contains("json"),
        "{message}"
    );
}

#[test]
fn generated_local_keys_are_random_hex() {
    let load = || Config::load(&vars(&[("HOME", "/nonexistent")], None), None).unwrap();
    let keys = |config: Config| match config.storage {
        Storage::Local { credentials, .. } => (
            credentials.access_key_id().to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
        _ => panic!("expected the local bucket"),
    };
    let (id, secret) = keys(load());
    assert!(id.starts_with("LOCAL") && id.len() == 20, "{id}");
    assert!(id[5..]
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(keys(load()), (id, secret), "two starts, two key pairs");
}

#[test]
fn an_identity_is_never_made_of_environment_and_dotenv_halves() {
    let dotenv =
        "S3_BUCKET_NAME=b\nAWS_ACCESS_KEY_ID=AKIDDOTENV\nAWS_SECRET_ACCESS_KEY=dotenv-secret\n\
                  AWS_SESSION_TOKEN=dotenv-token\n";
    // The environment's whole identity: the .env token does not join it.
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let config = Config::load(&vars(&env, Some(dotenv)), None).unwrap();
    let (_, credentials) = s3(&config);
    assert_eq!(credentials.access_key_id(), "AKIDENV");
    assert_eq!(
        credentials.session_token(),
        None,
        "no .env token on env keys"
    );
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("AWS_SESSION_TOKEN ignored")),
        "{:?}",
        config.warnings
    );
    assert!(config.warnings.iter().all(|w| !w.contains("dotenv-")));
    // Half an identity in the environment: refused, not completed from .env.
    for half in [
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SESSION_TOKEN", "stale-token"),
    ] {
        let env = [half, ("AWS_EC2_METADATA_DISABLED", "true")];
        let result = Config::load(&vars(&env, Some(dotenv)), None);
        assert!(result.is_err(), "{half:?} was completed from .env");
    }
    // The local bucket's keys follow the same rule.
    let dotenv = "LOCAL_BUCKET_ACCESS_KEY_ID=LOCALDOTENV\nLOCAL_BUCKET_SECRET_ACCESS_KEY=dotenv-local-secret\n";
    let env = [("LOCAL_BUCKET_ACCESS_KEY_ID", "LOCALENV")];
    assert!(Config::load(&vars(&env, Some(dotenv)), None).is_err());
}

#[test]
fn debug_output_never_shows_a_secret() {
    let token = "api-token-0123456789abcdef0123456789";
    let secret = "local-secret-never-printed";
    let aws_secret = "aws-secret-never-printed";
    let v = vars(
        &[
            ("API_TOKEN", token),
            ("LOCAL_BUCKET_ACCESS_KEY_ID", "LOCALKEY"),
            ("LOCAL_BUCKET_SECRET_ACCESS_KEY", secret),
            ("AWS_SECRET_ACCESS_KEY", aws_secret),
        ],
        None,
    );
    let printed = format!("{v:?}");
    assert!(printed.contains("API_TOKEN"), "{printed}");
    let config = Config::load(&v, None).unwrap();
    let printed = format!("{printed} {config:?} {config:#?}");
    for hidden in [token, secret, aws_secret] {
        assert!(!printed.contains(hidden), "{hidden} in {printed}");
    }
}

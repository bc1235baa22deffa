//! The five worked examples of the Amazon S3 API Reference
//! (tests/vectors/s3-docs/examples.json), byte for byte.

use presign::s3::{AddressingStyle, Bucket, Endpoint, ObjectRequest};
use presign::sigv4::{AmzDate, Credentials, Request, Signer, SigningOptions};
use serde_json::Value;

fn examples() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/s3-docs/examples.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["examples"].as_array().unwrap().clone()
}

fn signer(example: &Value) -> Signer {
    Signer::new(
        Credentials::new(
            example["access_key_id"].as_str().unwrap(),
            example["secret_access_key"].as_str().unwrap(),
        ),
        example["region"].as_str().unwrap(),
        example["service"].as_str().unwrap(),
    )
}

fn time(example: &Value) -> time::OffsetDateTime {
    AmzDate::parse(example["time"].as_str().unwrap())
        .unwrap()
        .time()
}

#[test]
fn all_five_examples_are_present() {
    let kinds: Vec<String> = examples()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["header", "header", "header", "header", "query"]);
}

#[test]
fn header_examples_match() {
    for example in examples().iter().filter(|e| e["kind"] == "header") {
        let request = &example["request"];
        // The signer adds x-amz-date and x-amz-content-sha256 itself.
        let headers: Vec<(&str, &str)> = request["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap()))
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("x-amz-date")
                    && !name.eq_ignore_ascii_case("x-amz-content-sha256")
            })
            .collect();
        let query: Vec<String> = request["query"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| match q[1].as_str() {
                Some(value) => format!("{}={value}", q[0].as_str().unwrap()),
                None => q[0].as_str().unwrap().to_owned(),
            })
            .collect();
        let query = query.join("&");
        let body = request["body_utf8"].as_str().unwrap();
        let hash = presign::sigv4::payload_hash(body.as_bytes());
        assert_eq!(hash, example["payload_hash"].as_str().unwrap());
        let signable = Request {
            method: request["method"].as_str().unwrap(),
            path: request["path"].as_str().unwrap(),
            query: &query,
            headers: &headers,
            payload_hash: &hash,
        };
        let signed = signer(example).sign_headers(&signable, time(example), SigningOptions::S3);
        let id = example["id"].as_str().unwrap();
        assert_eq!(
            signed.trace.canonical_request,
            example["canonical_request"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            signed.trace.string_to_sign,
            example["string_to_sign"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            signed.signature,
            example["signature"].as_str().unwrap(),
            "{id}"
        );
        let authorization = &signed
            .headers
            .iter()
            .find(|(n, _)| *n == "Authorization")
            .unwrap()
            .1;
        // The documentation prints no space after the commas (see its notes).
        assert_eq!(
            authorization.replace(", ", ","),
            example["authorization"].as_str().unwrap(),
            "{id}"
        );
    }
}

#[test]
fn presigned_example_matches_through_the_s3_layer() {
    let example = examples()
        .into_iter()
        .find(|e| e["kind"] == "query")
        .unwrap();
    let host = example["request"]["host"].as_str().unwrap();
    let bucket_name = example["bucket"].as_str().unwrap();
    // The example's host is <bucket>.s3.amazonaws.com: the global endpoint.
    let endpoint_host = host.strip_prefix(&format!("{bucket_name}.")).unwrap();
    let bucket = Bucket::new(
        Endpoint::parse(&format!("https://{endpoint_host}")).unwrap(),
        bucket_name,
        example["region"].as_str().unwrap(),
        AddressingStyle::VirtualHosted,
    )
    .unwrap();
    let request = ObjectRequest::new(
        example["request"]["method"].as_str().unwrap(),
        example["key"].as_str().unwrap(),
    );
    let expires = example["expires"].as_u64().unwrap() as u32;
    let (presigned, trace) = bucket
        .presign_traced(&signer(&example), &request, time(&example), expires)
        .unwrap();
    assert_eq!(
        trace.canonical_request,
        example["canonical_request"].as_str().unwrap()
    );
    assert_eq!(
        trace.string_to_sign,
        example["string_to_sign"].as_str().unwrap()
    );
    assert_eq!(presigned.url, example["presigned_url"].as_str().unwrap());
    // Without a trace, only hashes see the canonical request: same URL.
    let untraced = bucket
        .presign(&signer(&example), &request, time(&example), expires)
        .unwrap();
    assert_eq!(untraced.url, presigned.url);
}

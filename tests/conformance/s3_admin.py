#!/usr/bin/env python3
"""Bucket set-up and inspection for the browser tests against SeaweedFS, with botocore.

The browser tests (tests/e2e/seaweedfs.e2e.mjs) need a bucket, its CORS rule and a
look at what the bucket holds, independently of the server under test. These are
bucket-level, header-signed requests, which `presign url` does not make, so this
script makes them with botocore's S3 client as the admin identity of
tests/conformance/identities.json (path style, region us-east-1, no retries).

    python s3_admin.py create-bucket BUCKET
    python s3_admin.py put-cors BUCKET ORIGIN [ORIGIN...]   # PUT GET HEAD POST DELETE; content-type, if-none-match; ETag
    python s3_admin.py get-cors BUCKET                      # prints the rules as JSON
    python s3_admin.py list BUCKET                          # prints [{"key", "size"}] as JSON
    python s3_admin.py list-uploads BUCKET                  # prints the unfinished multipart uploads [{"key", "uploadId"}]
    python s3_admin.py head BUCKET KEY                      # prints {"size", "contentType"} or {"missing": true}

The endpoint is SEAWEEDFS_ENDPOINT (default http://127.0.0.1:8333). Run it with the
venv that tests/conformance/seaweedfs.sh installs:
    target/conformance/venv/bin/python tests/conformance/s3_admin.py list BUCKET

Exit status 0 on success; 1 with the S3 error (status, code, message) on stderr otherwise.
"""

import json
import os
import sys
from pathlib import Path

# Only what is given here counts: no profile files or instance metadata of the machine.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402
import botocore.session  # noqa: E402

ADMIN = "PRESIGNTESTADMIN"
IDENTITIES = Path(__file__).with_name("identities.json")


def client():
    endpoint = os.environ.get("SEAWEEDFS_ENDPOINT", "http://127.0.0.1:8333")
    identities = json.loads(IDENTITIES.read_text())["identities"]
    secret = next(
        c["secretKey"]
        for i in identities
        for c in i["credentials"]
        if c["accessKey"] == ADMIN
    )
    config = botocore.config.Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=15,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return botocore.session.get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=ADMIN,
        aws_secret_access_key=secret,
        config=config,
    )


def cors_rules(origins):
    return [
        {
            "AllowedOrigins": origins,
            # POST and DELETE: multipart create, complete and abort (as the README's rule).
            "AllowedMethods": ["PUT", "GET", "HEAD", "POST", "DELETE"],
            "AllowedHeaders": ["content-type", "if-none-match"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 600,
        }
    ]


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, bucket, rest = argv[0], argv[1], argv[2:]
    s3 = client()
    if command == "create-bucket" and not rest:
        s3.create_bucket(Bucket=bucket)
        out = {"created": bucket}
    elif command == "put-cors" and rest:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors_rules(rest)})
        out = {"cors": cors_rules(rest)}
    elif command == "get-cors" and not rest:
        out = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    elif command == "list" and not rest:
        out = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            out += [{"key": o["Key"], "size": o["Size"]} for o in page.get("Contents", [])]
    elif command == "list-uploads" and not rest:
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        out = [{"key": u["Key"], "uploadId": u["UploadId"]} for u in uploads]
    elif command == "head" and len(rest) == 1:
        try:
            head = s3.head_object(Bucket=bucket, Key=rest[0])
            out = {"size": head["ContentLength"], "contentType": head.get("ContentType")}
        except botocore.exceptions.ClientError as err:
            if err.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                raise
            out = {"missing": True}
    else:
        sys.exit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except botocore.exceptions.ClientError as err:
        meta = err.response.get("ResponseMetadata", {})
        error = err.response.get("Error", {})
        print(
            f"s3_admin.py {' '.join(sys.argv[1:3])}: {meta.get('HTTPStatusCode')} "
            f"{error.get('Code')}: {error.get('Message')}",
            file=sys.stderr,
        )
        sys.exit(1)
    except botocore.exceptions.BotoCoreError as err:
        print(f"s3_admin.py {' '.join(sys.argv[1:3])}: {err}", file=sys.stderr)
        sys.exit(1)

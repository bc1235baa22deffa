#!/usr/bin/env python3
"""Pre-sign S3 URLs with botocore under a frozen clock: the reference for tests/botocore.rs.

Reads a JSON list of inputs from the file named as the first argument, or from stdin:

    {"method": "PUT", "bucket": "b", "key": "a b/c", "region": "us-east-1",
     "endpoint": "http://127.0.0.1:8333", "path_style": true, "expires": 900,
     "time": "20240102T030405Z", "access_key": "AK", "secret_key": "SK",
     "session_token": "optional", "params": {"response-content-type": "text/plain"},
     "headers": {"content-type": "text/plain"}}

`params` may also be a list of [name, value] pairs, to fix their order in the URL.

and prints a JSON list, one object per input, in order:

    {"url": "...", "canonical_request": "...", "string_to_sign": "..."}

The URL is built the way botocore's S3 client builds it (key quoted with
percent_encode(key, safe="/~"), bucket in the path or, with path_style false, in
the host name, extra query parameters first) and signed by botocore's own
S3SigV4QueryAuth, with every given header signed. `--self-check` additionally
asks a real botocore S3 client's generate_presigned_url for the same inputs (same
frozen clock) and exits 1 if any URL differs, so the construction above is known to
be byte for byte what botocore itself produces.

Run it with the venv that tests/conformance/seaweedfs.sh installs:
    target/conformance/venv/bin/python tests/conformance/botocore_presign.py FILE
"""

import datetime
import json
import sys
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import botocore
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.session
from botocore.utils import percent_encode, percent_encode_sequence

TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def frozen_clock(stamp):
    """Patch the clock botocore's signers read (a naive UTC datetime)."""
    when = datetime.datetime.strptime(stamp, TIME_FORMAT)
    return mock.patch.object(botocore.auth, "get_current_datetime", return_value=when)


class RecordingQueryAuth(botocore.auth.S3SigV4QueryAuth):
    """botocore's presigner, unchanged, keeping its canonical request and string to sign."""

    canonical = None
    to_sign = None

    def string_to_sign(self, request, canonical_request):
        self.canonical = canonical_request
        self.to_sign = super().string_to_sign(request, canonical_request)
        return self.to_sign


def build_url(inp):
    """The URL botocore's S3 client would sign, before the auth parameters."""
    ep = urlsplit(inp["endpoint"])
    base = ep.path[:-1] if ep.path.endswith("/") else ep.path
    # botocore's REST serializer quotes a greedy {Key+} label with safe="/~".
    key = percent_encode(inp["key"], safe="/~")
    if inp.get("path_style", True):
        netloc = ep.netloc
        path = f"{base}/{percent_encode(inp['bucket'])}/{key}"
    else:
        netloc = f"{inp['bucket']}.{ep.netloc}"
        path = f"{base}/{key}"
    url = urlunsplit((ep.scheme, netloc, path, "", ""))
    params = inp.get("params") or {}
    if params:
        url += "?" + percent_encode_sequence(params)
    return url


def presign(inp):
    creds = botocore.credentials.Credentials(
        inp["access_key"], inp["secret_key"], inp.get("session_token")
    )
    request = botocore.awsrequest.AWSRequest(
        method=inp["method"], url=build_url(inp), headers=dict(inp.get("headers") or {})
    )
    auth = RecordingQueryAuth(creds, "s3", inp["region"], expires=inp["expires"])
    with frozen_clock(inp["time"]):
        auth.add_auth(request)
    return {
        "url": request.url,
        "canonical_request": auth.canonical,
        "string_to_sign": auth.to_sign,
    }


# --- self-check against the real client ------------------------------------------

OPERATIONS = {"PUT": "put_object", "GET": "get_object", "HEAD": "head_object",
              "DELETE": "delete_object"}
HEADER_PARAMS = {"content-type": "ContentType", "content-length": "ContentLength",
                 "if-none-match": "IfNoneMatch", "cache-control": "CacheControl",
                 "content-disposition": "ContentDisposition"}
QUERY_PARAMS = {"response-content-type": "ResponseContentType",
                "response-content-disposition": "ResponseContentDisposition",
                "response-cache-control": "ResponseCacheControl",
                "versionId": "VersionId"}


def client_presign(inp):
    """generate_presigned_url for the same input, or None when it has no mapping."""
    op = OPERATIONS.get(inp["method"])
    if op is None:
        return None
    api = {"Bucket": inp["bucket"], "Key": inp["key"]}
    for name, value in (inp.get("headers") or {}).items():
        lname = name.lower()
        if lname in HEADER_PARAMS:
            api[HEADER_PARAMS[lname]] = int(value) if lname == "content-length" else value
        elif lname.startswith("x-amz-meta-"):
            api.setdefault("Metadata", {})[lname[len("x-amz-meta-"):]] = value
        else:
            return None
    for name, value in dict(inp.get("params") or {}).items():
        if name not in QUERY_PARAMS:
            return None
        api[QUERY_PARAMS[name]] = value
    session = botocore.session.get_session()
    client = session.create_client(
        "s3",
        region_name=inp["region"],
        endpoint_url=inp["endpoint"],
        aws_access_key_id=inp["access_key"],
        aws_secret_access_key=inp["secret_key"],
        aws_session_token=inp.get("session_token"),
        config=botocore.config.Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if inp.get("path_style", True) else "virtual"},
        ),
    )
    with frozen_clock(inp["time"]):
        return client.generate_presigned_url(op, Params=api, ExpiresIn=inp["expires"])


def main(argv):
    args = [a for a in argv[1:] if a != "--self-check"]
    self_check = "--self-check" in argv[1:]
    if args:
        with open(args[0], encoding="utf-8") as f:
            inputs = json.load(f)
    else:
        inputs = json.load(sys.stdin)
    out = [presign(inp) for inp in inputs]
    if self_check:
        bad = 0
        checked = 0
        for inp, got in zip(inputs, out):
            want = client_presign(inp)
            if want is None:
                continue
            checked += 1
            if want != got["url"]:
                bad += 1
                print(f"MISMATCH for {json.dumps(inp)}\n  ours:   {got['url']}\n"
                      f"  client: {want}", file=sys.stderr)
        print(f"self-check: botocore {botocore.__version__}, {checked} compared, "
              f"{bad} differ", file=sys.stderr)
        if bad:
            return 1
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

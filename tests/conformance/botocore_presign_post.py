#!/usr/bin/env python3
"""Browser POST forms from botocore's generate_presigned_post under a frozen clock:
the reference for the POST tests in tests/botocore.rs.

Reads a JSON list of inputs from the file named as the first argument, or from stdin:

    {"bucket": "b", "key": "uploads/${filename}", "region": "us-east-1",
     "endpoint": "http://127.0.0.1:8333", "path_style": true, "expires": 600,
     "time": "20260102T030405Z", "access_key": "AK", "secret_key": "SK",
     "session_token": "optional",
     "fields": [["Content-Type", "image/png"]],
     "conditions": [["content-length-range", 1, 10], {"Content-Type": "image/png"}]}

and prints a JSON list, one object per input, in order:

    {"url": "...", "fields": [["name", "value"], ...], "policy": "<decoded policy JSON>"}

with the fields in botocore's order. The form comes from a real S3 client's
generate_presigned_post (botocore.signers.S3PostPresigner), the clock frozen by
patching get_current_datetime where botocore.auth and botocore.signers read it.

Run it with the venv that tests/conformance/seaweedfs.sh installs:
    target/conformance/venv/bin/python tests/conformance/botocore_presign_post.py FILE
"""

import base64
import datetime
import json
import sys
from contextlib import ExitStack
from unittest import mock

import botocore
import botocore.auth
import botocore.config
import botocore.session
import botocore.signers

TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def frozen_clock(stamp):
    """Patch every clock generate_presigned_post reads (naive UTC datetimes)."""
    when = datetime.datetime.strptime(stamp, TIME_FORMAT)
    stack = ExitStack()
    for module in (botocore.auth, botocore.signers):
        if hasattr(module, "get_current_datetime"):
            stack.enter_context(
                mock.patch.object(module, "get_current_datetime", return_value=when))
    return stack


def presign_post(inp):
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
    fields = {name: value for name, value in inp.get("fields") or []}
    with frozen_clock(inp["time"]):
        post = client.generate_presigned_post(
            inp["bucket"], inp["key"], Fields=fields,
            Conditions=inp.get("conditions") or [], ExpiresIn=inp["expires"])
    return {
        "url": post["url"],
        "fields": [[name, value] for name, value in post["fields"].items()],
        "policy": base64.b64decode(post["fields"]["policy"]).decode("utf-8"),
    }


def main(argv):
    if len(argv) > 1:
        with open(argv[1], encoding="utf-8") as f:
            inputs = json.load(f)
    else:
        inputs = json.load(sys.stdin)
    out = [presign_post(inp) for inp in inputs]
    print(f"botocore {botocore.__version__}: {len(out)} POST forms", file=sys.stderr)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""SigV4 measured against botocore (Debian's python3-botocore), the signer AWS's
own SDK uses: requests reach the mock provider, which keeps what it got
(/mock/last), and botocore signs that same request again. The libcurl of this
machine (CURLOPT_AWS_SIGV4, through the curl tool) is measured on Bedrock's
paths: the verdict is printed, and tollgate signs with its own
lib/provider/sigv4.c where it is wrong (a model id's ':' is sent as %3A and
must be signed as %253A). Skips without botocore or curl."""
import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Mock, diag, done, eq, ok  # noqa: E402

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    print("1..0 # SKIP no botocore (apt install python3-botocore)")
    sys.exit(0)
if shutil.which("curl") is None:
    print("1..0 # SKIP no curl")
    sys.exit(0)

AKID, SECRET, REGION = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1"


def botocore_signature(last, url):
    """The signature botocore gives the request the mock received, with the headers it names."""
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    auth = hdrs.get("authorization", "")
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in auth else []
    req = AWSRequest(method=last["method"], url=url, data=last["body"].encode(),
                     headers={h: hdrs[h] for h in signed if h in hdrs})
    a = SigV4Auth(Credentials(AKID, SECRET), "bedrock", REGION)
    req.context["timestamp"] = hdrs.get("x-amz-date", "")
    if "host" not in req.headers:	# (setting a header botocore has adds a second one)
        req.headers["host"] = urlsplit(url).netloc
    want = a.signature(a.string_to_sign(req, a.canonical_request(req)), req)
    got = auth.split("Signature=")[1] if "Signature=" in auth else ""
    return got, want


def main():
    mock = Mock()
    try:
        results = {}
        for name, path in (("a plain path", "/model/amazon.nova-lite-v1/converse"),
                           ("a model id with ':' (%3A)", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse")):
            url = "http://127.0.0.1:%d%s" % (mock.port, path)
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "--aws-sigv4", "aws:amz:%s:bedrock" % REGION,
                                "--user", "%s:%s" % (AKID, SECRET), "-H", "Content-Type: application/json",
                                "--data", '{"messages":[]}', url], capture_output=True, timeout=30)
            last = mock.get("/mock/last")
            eq(last.get("path"), path, "curl reached the mock with %s" % name)
            got, want = botocore_signature(last, url)
            results[name] = got == want
            diag("libcurl %s signs %s %s botocore" % (curl_version(), name, "like" if got == want else "UNLIKE"))
        ok(results["a plain path"], "libcurl's SigV4 on a plain path is botocore's (the check itself works)")
        diag("measured: libcurl %s on a %%3A path %s" % (
            curl_version(), "agrees with botocore" if results["a model id with ':' (%3A)"]
            else "disagrees with botocore: tollgate signs with its own lib/provider/sigv4.c "
            "(t_sigv4 holds it to botocore's signatures)"))
    finally:
        mock.stop()
    done()


def curl_version():
    out = subprocess.run(["curl", "--version"], capture_output=True, text=True, timeout=10).stdout
    return out.split()[1] if out else "?"


main()

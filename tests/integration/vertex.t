#!/usr/bin/python3
"""Vertex AI through the gateway, against the mock's Vertex paths and its
token endpoint: a service-account key made here, the JWT each worker sends
to the token endpoint verified with the key's public half (python3-
cryptography, independently of tollgate), Gemini and Claude on Vertex for
every client format, streamed and not, priced exactly; tokens fetched once
per worker and never per request, renewed ahead of expiry; a token endpoint
that fails gives a 502 that says so; the private key appears in no log, no
error and not in /metrics.  Skips without python3-cryptography."""
import base64
import json
import os
import shutil
import tempfile
import sys
import time
import urllib.request
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Gateway, Mock, done, eq, ok, skip, sse, stream_cost, teardown, wait_until  # noqa: E402

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
except ImportError:
    skip("no python3-cryptography (apt install python3-cryptography)")

EMAIL = "tollgate-test@tg-project.iam.gserviceaccount.com"
KNOBS = {"X-Mock-prompt_tokens": "1200", "X-Mock-completion_tokens": "80",
         "X-Mock-cached_tokens": "200", "X-Mock-strict": "1"}
# prices of the test, per token (decimal text in prices.yaml)
GEM = {"in": Decimal("3e-7"), "out": Decimal("2.5e-6"), "read": Decimal("7.5e-8")}
CLAUDE = {"in": Decimal("3e-6"), "out": Decimal("1.5e-5"), "read": Decimal("3e-7")}
# the mock's Gemini usage: prompt 1200 with 200 cached, candidates 50 + thoughts 30
GEM_COST = 1000 * GEM["in"] + 200 * GEM["read"] + 80 * GEM["out"]
# Anthropic's: input 1000 without the 200 cache reads, output 80
CLAUDE_COST = 1000 * CLAUDE["in"] + 200 * CLAUDE["read"] + 80 * CLAUDE["out"]


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def make_key(mock_port):
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()).decode()
    sa = {"type": "service_account", "project_id": "tg-project", "private_key_id": "kid-77",
          "private_key": pem, "client_email": EMAIL, "client_id": "1",
          "token_uri": "http://127.0.0.1:%d/token" % mock_port}
    return k.public_key(), pem, sa


def deps(mock, keyfile, extra=None):
    h = "".join("        %s: \"%s\"\n" % kv for kv in dict(KNOBS, **(extra or {})).items())
    return """\
  - model_name: vgem
    litellm_params:
      model: vertex_ai/gemini-2.5-flash
      api_base: http://127.0.0.1:%(mock)d
      vertex_project: proj-a
      vertex_location: us-central1
      vertex_credentials: %(key)s
      extra_headers:
        X-Mock-reasoning_tokens: "30"
%(h)s  - model_name: vclaude
    litellm_params:
      model: vertex_ai/claude-sonnet-4-5@20250929
      api_base: http://127.0.0.1:%(mock)d
      vertex_location: europe-west4
      vertex_credentials: os.environ/TG_TEST_VERTEX_KEY
      extra_headers:
%(h)s""" % {"key": keyfile, "h": h, "mock": mock.port}


def add_prices(g):
    with open(os.path.join(g.dir, "prices.yaml"), "a") as f:
        f.write("gemini-2.5-flash:\n  input_cost_per_token: 3e-7\n  output_cost_per_token: 2.5e-6\n"
                "  cache_read_input_token_cost: 7.5e-8\n"
                "vertex_ai/claude-sonnet-4-5@20250929:\n  input_cost_per_token: 3e-6\n"
                "  output_cost_per_token: 1.5e-5\n  cache_read_input_token_cost: 3e-7\n")


def mock_post(mock, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (mock.port, path), json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def cost_of(rec):
    return Decimal(rec["cost_usd"]) if rec else None


def priced(gw, h, want, what, stream=None):
    """The record's cost, and the one the client was told: the header, or a stream's last comment."""
    rec = gw.record(h.get("x-tollgate-request-id"))
    told = h.get("x-tollgate-response-cost", "-1") if stream is None else stream_cost(stream) or "-1"
    ok(rec is not None and cost_of(rec) == want and Decimal(told) == want,
       "  %s: priced exactly, %s" % (what, want), (rec and rec.get("cost_usd"), told))
    return rec


def last_judged(mock, what):
    last = mock.get("/mock/last")
    ok(last.get("verdict") == "ok", "  what reached Vertex is valid for it (%s)" % what, last.get("verdict"))
    return last, json.loads(last.get("body") or "{}")


def check_assertion(mock, pub, sa):
    t = mock.get("/mock/token")
    eq(t.get("verdict"), "ok", "the token endpoint found the grant and the JWT's claims in order")
    parts = (t.get("assertion") or "..").split(".")
    ok(len(parts) == 3, "  the assertion is a signed JWT", parts[:2])
    if len(parts) != 3:
        return
    header, claims = json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
    try:
        pub.verify(b64url_decode(parts[2]), (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(),
                   hashes.SHA256())
        verified = True
    except InvalidSignature:
        verified = False
    ok(verified, "  its RS256 signature verifies with the service account's public key (cryptography)")
    ok(header.get("alg") == "RS256" and header.get("kid") == "kid-77", "  header: RS256 and the key's id", header)
    ok(claims.get("iss") == EMAIL and claims.get("aud") == sa["token_uri"] and
       claims.get("scope") == "https://www.googleapis.com/auth/cloud-platform" and
       0 < claims.get("exp", 0) - claims.get("iat", 0) <= 3600,
       "  claims: the account, the token endpoint, cloud-platform, at most an hour", claims)


def test_formats(gw, mock):
    # Gemini on Vertex, a chat client
    st, h, data = gw.post("/v1/chat/completions", {"model": "vgem", "messages": [{"role": "user", "content": "hi"}]})
    m = json.loads(data) if st == 200 else {}
    ok(st == 200 and m.get("choices", [{}])[0].get("message", {}).get("content"),
       "chat client -> Gemini on Vertex: a chat completion", (st, data[:300]))
    last, _ = last_judged(mock, "chat -> vertex gemini")
    eq(last.get("path"), "/v1/projects/proj-a/locations/us-central1/publishers/google/models/"
       "gemini-2.5-flash:generateContent", "  Vertex's path: project, location, publisher, model")
    ok((last.get("headers", {}).get("Authorization") or "").startswith("Bearer ya29.mock-"),
       "  the bearer is a token the token endpoint issued", last.get("headers", {}).get("Authorization"))
    priced(gw, h, GEM_COST, "from usageMetadata")

    st, h, data = gw.post("/v1/chat/completions", {"model": "vgem", "stream": True,
                                                   "messages": [{"role": "user", "content": "hi"}]})
    evs = [d for _, d in sse(data) if isinstance(d, dict)]
    text = "".join((e.get("choices") or [{}])[0].get("delta", {}).get("content") or "" for e in evs)
    ok(st == 200 and text and b"data: [DONE]" in data, "chat stream -> Gemini on Vertex: chunks, [DONE]",
       (st, data[:200]))
    last, _ = last_judged(mock, "chat stream -> vertex gemini")
    eq(last.get("path"), "/v1/projects/proj-a/locations/us-central1/publishers/google/models/"
       "gemini-2.5-flash:streamGenerateContent?alt=sse", "  streamGenerateContent, as SSE")
    priced(gw, h, GEM_COST, "the stream", data)

    st, h, data = gw.post("/v1/responses", {"model": "vgem", "input": "hi"})
    r = json.loads(data) if st == 200 else {}
    ok(st == 200 and r.get("object") == "response" and r.get("usage", {}).get("output_tokens") == 80,
       "Responses client -> Gemini on Vertex: a response", (st, data[:300]))
    priced(gw, h, GEM_COST, "the same")

    # Claude on Vertex: an Anthropic client relayed, the body as Vertex takes it
    body = {"model": "vclaude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    st, h, data = gw.post("/v1/messages", body, headers={"anthropic-version": "2023-06-01"})
    m = json.loads(data) if st == 200 else {}
    ok(st == 200 and m.get("type") == "message" and m.get("usage", {}).get("output_tokens") == 80,
       "Anthropic client -> Claude on Vertex: a message", (st, data[:300]))
    last, up = last_judged(mock, "messages -> vertex claude")
    eq(last.get("path"), "/v1/projects/tg-project/locations/europe-west4/publishers/anthropic/models/"
       "claude-sonnet-4-5@20250929:rawPredict", "  rawPredict, in the key's project")
    ok("model" not in up and up.get("anthropic_version") == "vertex-2023-10-16",
       "  the body without the model, with Vertex's anthropic_version", up)
    priced(gw, h, CLAUDE_COST, "from Anthropic's usage")

    st, h, data = gw.post("/v1/messages", dict(body, stream=True), headers={"anthropic-version": "2023-06-01"})
    ok(st == 200 and b"event: message_stop" in data and b"event: content_block_delta" in data,
       "Anthropic stream -> Claude on Vertex: relayed", (st, data[:200]))
    last, up = last_judged(mock, "messages stream -> vertex claude")
    ok(last.get("path", "").endswith(":streamRawPredict") and up.get("stream") is True,
       "  streamRawPredict", last.get("path"))
    priced(gw, h, CLAUDE_COST, "the stream", data)

    st, h, data = gw.post("/v1/chat/completions", {"model": "vclaude", "messages": [{"role": "user", "content": "hi"}]})
    m = json.loads(data) if st == 200 else {}
    ok(st == 200 and m.get("object") == "chat.completion", "chat client -> Claude on Vertex: translated",
       (st, data[:300]))
    _, up = last_judged(mock, "chat -> vertex claude")
    ok("model" not in up and up.get("max_tokens"), "  Anthropic's body, without the model, with max_tokens", up)
    priced(gw, h, CLAUDE_COST, "the same as natively")

    st, h, data = gw.post("/v1/responses", {"model": "vclaude", "input": "hi", "stream": True})
    ok(st == 200 and b"response.completed" in data, "Responses stream -> Claude on Vertex", (st, data[:200]))
    priced(gw, h, CLAUDE_COST, "the same", data)


def test_tokens(gw, mock, before):
    for _ in range(20):
        gw.post("/v1/chat/completions", {"model": "vgem", "messages": [{"role": "user", "content": "hi"}]})
    after = mock.get("/mock/token").get("exchanges")
    eq(after, before, "30 requests later, no token fetched on the way: one per worker, at start (%d)" % before)


def test_secrets(gw, pem):
    body = b"".join(l.encode() for l in pem.splitlines()[1:-1])
    middle = pem.splitlines()[5]
    st, _, metrics = gw.request("GET", "/metrics")
    log = gw.logtext()
    ok(middle not in log and "PRIVATE KEY" not in log and middle.encode() not in metrics and body[:40] not in metrics,
       "the private key is in neither the log nor /metrics")


def test_refresh(mock, pub, sa, keyfile, pem):
    """A short-lived token is renewed ahead of its expiry while in use, behind the requests."""
    mock_post(mock, "/mock/token", {"expires_in": 3, "reset": True})
    gw = Gateway(mock, deps(mock, keyfile), tollgate_extra="  workers: 1\n", prepare=add_prices)
    try:
        ok(wait_until(lambda: mock.get("/mock/token").get("exchanges") >= 1, 10), "one worker: one token at start")
        st, _, _ = gw.post("/v1/chat/completions", {"model": "vgem", "messages": [{"role": "user", "content": "hi"}]})
        first = mock.get("/mock/last").get("headers", {}).get("Authorization")
        # the token lives 3 s: renewed at 2.5 s because it was used, before it runs out
        renewed = wait_until(lambda: mock.get("/mock/token").get("exchanges") >= 2, 10)
        ok(st == 200 and renewed, "a token in use is renewed before it expires")
        st, _, _ = gw.post("/v1/chat/completions", {"model": "vgem", "messages": [{"role": "user", "content": "hi"}]})
        now = mock.get("/mock/last").get("headers", {}).get("Authorization")
        ok(st == 200 and now != first, "  the next request sends the new token", (st, first, now))
    finally:
        gw.stop()
        gw.cleanup()
        mock_post(mock, "/mock/token", {"expires_in": 3600})


def test_failure(mock, keyfile, pem):
    """A token endpoint that refuses: a 502 in the client's format that says so, then recovery."""
    mock_post(mock, "/mock/token", {"status": 401})
    gw = Gateway(mock, deps(mock, keyfile), prepare=add_prices)
    try:
        st, _, data = gw.post("/v1/chat/completions", {"model": "vgem", "messages": [{"role": "user", "content": "hi"}]})
        e = json.loads(data).get("error", {}) if data.startswith(b"{") else {}
        ok(st == 502 and "token endpoint" in e.get("message", "") and "invalid_client" in e.get("message", ""),
           "a token endpoint that refuses: 502, saying so (OpenAI's error)", (st, data[:400]))
        st, _, data = gw.post("/v1/messages", {"model": "vclaude", "max_tokens": 10,
                                               "messages": [{"role": "user", "content": "hi"}]})
        d = json.loads(data) if data.startswith(b"{") else {}
        ok(st == 502 and d.get("type") == "error" and "token endpoint" in d.get("error", {}).get("message", ""),
           "  to an Anthropic client: Anthropic's error", (st, data[:400]))
        middle = pem.splitlines()[5]
        ok(middle not in data.decode(errors="replace") and middle not in gw.logtext(),
           "  the key is not in the error or the log")
        recs = gw.records()
        ok(any("upstream_failed" in (r.get("flags") or []) for r in recs),
           "  recorded, flagged upstream_failed", [r.get("flags") for r in recs])
        mock_post(mock, "/mock/token", {"status": 0})
        good = wait_until(lambda: gw.post("/v1/chat/completions", {
            "model": "vgem", "messages": [{"role": "user", "content": "hi"}]})[0] == 200, 10, 0.3)
        ok(good, "once the endpoint answers again, requests are served")
    finally:
        mock_post(mock, "/mock/token", {"status": 0})
        gw.stop()
        gw.cleanup()


def main():
    mock = Mock()
    gw = None
    keydir = None
    try:
        pub, pem, sa = make_key(mock.port)
        keydir = tempfile.mkdtemp(prefix="tollgate-vertex-")
        keyfile = os.path.join(keydir, "sa.json")
        with open(keyfile, "w") as f:
            json.dump(sa, f)
        os.environ["TG_TEST_VERTEX_KEY"] = json.dumps(sa)
        gw = Gateway(mock, deps(mock, keyfile), prepare=add_prices)
        warm = wait_until(lambda: mock.get("/mock/token").get("exchanges") >= 2, 10)
        before = mock.get("/mock/token").get("exchanges")
        ok(warm and before == 2, "each of the 2 workers fetched a token at start, one for the key "
           "shared by both deployments (%d)" % before)
        check_assertion(mock, pub, sa)
        test_formats(gw, mock)
        test_tokens(gw, mock, before)
        test_secrets(gw, pem)
        gw.stop()
        gw.cleanup()
        gw = None
        test_failure(mock, keyfile, pem)
        test_refresh(mock, pub, sa, keyfile, pem)
    finally:
        if gw is not None:
            teardown(gw, mock, keydir)
        else:
            mock.stop()
            shutil.rmtree(keydir or "/nonexistent", ignore_errors=True)
    done()


main()

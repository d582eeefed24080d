#!/usr/bin/python3
"""Authentication through a real gateway and the mock provider: missing,
malformed, unknown, revoked, expired, wrong-case and over-long keys; the
x-api-key header; a credential given twice; the admin endpoints without the master key; a key for
one model asking for another.  Each gets its status and an OpenAI-style
JSON error, and none reaches the provider or leaves a ledger record
(a request refused before it goes upstream is never recorded)."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import MASTER_KEY, USER_KEY, Gateway, Mock, done, eq, ok  # noqa: E402

CHAT = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
ANTHROPIC = {"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def raw(gw, head, body=b""):
    """Sends one request as bytes (head: the lines after the request line);
    returns (status, body) of the answer, read to the close."""
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Type: application/json\r\n" + head +
           b"Content-Length: %d\r\n\r\n" % len(body) + body)
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        s.sendall(req)
    except OSError:
        pass    # the gateway may answer and close before it has read everything
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    s.close()
    if not data.startswith(b"HTTP/1."):
        return 0, data
    head_end = data.find(b"\r\n\r\n")
    return int(data.split(b" ", 2)[1]), data[head_end + 4:] if head_end >= 0 else b""


def error_of(body):
    """The error object of an OpenAI-style error body, or None."""
    try:
        e = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(e, dict) or not all(k in e for k in ("message", "type", "code")):
        return None
    return e


def refused(what, got, statuses, code=None):
    """got: (status, body); checks the status is one of statuses and the body an error."""
    st, body = got
    e = error_of(body)
    ok(st in statuses and e is not None and (code is None or e["code"] == code),
       "%s: %s, %s" % (what, "/".join(map(str, statuses)), code or "a JSON error"),
       (st, body[:300]))


def generate(gw, **attrs):
    st, _, body = gw.post("/key/generate", attrs)
    if st != 200:
        raise RuntimeError("key/generate: %d %s" % (st, body))
    return json.loads(body)


def upstream_count(mock):
    return mock.get("/mock/stats")["requests"]


def check_malformed(gw):
    bearer = lambda v: b"Authorization: " + v + b"\r\n"  # noqa: E731
    body = json.dumps(CHAT).encode()
    refused("no Authorization", raw(gw, b"", body), (401,), "missing_api_key")
    for what, head in (
            ("Authorization without Bearer", bearer(MASTER_KEY.encode())),
            ("Basic instead of Bearer", bearer(b"Basic " + MASTER_KEY.encode())),
            ("an empty Authorization", bearer(b"")),
            ("'Bearer' alone", bearer(b"Bearer")),
            ("'Bearer ' and nothing", bearer(b"Bearer ")),
            ("Bearer and two spaces before the key", bearer(b"Bearer  " + MASTER_KEY.encode())),
            ("a space inside the key", bearer(b"Bearer sk-test -master")),
            ("Bearer with no space (BearerKEY)", bearer(b"Bearer" + MASTER_KEY.encode())),
            ("an unknown key", bearer(b"Bearer sk-nobody-has-this-key")),
            ("the master key in upper case", bearer(b"Bearer " + MASTER_KEY.upper().encode())),
            ("the master key with its last letter's case changed",
             bearer(b"Bearer " + MASTER_KEY[:-1].encode() + MASTER_KEY[-1].upper().encode())),
            ("the master key and one byte more", bearer(b"Bearer " + MASTER_KEY.encode() + b"x")),
            ("a prefix of the master key", bearer(b"Bearer " + MASTER_KEY[:-1].encode())),
            ("a listed key cut short", bearer(b"Bearer " + USER_KEY[:-2].encode())),
            ("non-ASCII in the key", bearer("Bearer sk-tést-mäster".encode())),
            ("Latin-1 bytes in the key", bearer(b"Bearer sk-t\xe9st-master")),
            ("a NUL after the key", bearer(b"Bearer " + MASTER_KEY.encode() + b"\x00")),
            ("a control byte in the key", bearer(b"Bearer sk-test\x01-master")),
            ("a DEL in the key", bearer(b"Bearer sk-test-master\x7f")),
            ("a bare CR in the key", bearer(b"Bearer sk-test\r-master")),
            ("x-api-key empty", b"x-api-key: \r\n"),
            ("x-api-key unknown", b"x-api-key: sk-nobody\r\n"),
            ("x-api-key with the master key's case changed",
             b"x-api-key: " + MASTER_KEY.upper().encode() + b"\r\n")):
        # the HTTP layer may refuse the bytes first (400); either way no key is accepted
        refused(what, raw(gw, head, body), (400, 401))
    for size in (8 * 1024, 64 * 1024, 200 * 1024):
        refused("a key of %d KiB" % (size // 1024),
                raw(gw, bearer(b"Bearer sk-" + b"a" * size), body), (400, 401, 431))
    refused("a 64 KiB x-api-key", raw(gw, b"x-api-key: " + b"k" * 65536 + b"\r\n", body),
            (400, 401, 431))
    master = bearer(b"Bearer " + MASTER_KEY.encode())
    refused("two Authorization headers, the master key second",
            raw(gw, bearer(b"Bearer sk-wrong") + master, body), (400,), "bad_request")
    refused("two Authorization headers, the master key first",
            raw(gw, master + bearer(b"Bearer sk-wrong"), body), (400,), "bad_request")
    refused("x-api-key twice", raw(gw, b"x-api-key: sk-wrong\r\nX-Api-Key: " +
            MASTER_KEY.encode() + b"\r\n", body), (400,), "bad_request")
    refused("a wrong bearer and the master key as x-api-key",
            raw(gw, bearer(b"Bearer sk-wrong") + b"x-api-key: " + MASTER_KEY.encode() + b"\r\n",
                body), (401,), "invalid_api_key")


def check_accepted_forms(gw):
    st, _, _ = gw.post("/v1/chat/completions", CHAT, key=None,
                       headers={"Authorization": "bearer " + USER_KEY})
    eq(st, 200, "the scheme is case-insensitive: 'bearer KEY' is served")
    st, _, body = gw.post("/v1/messages", ANTHROPIC, key=None, headers={"x-api-key": USER_KEY})
    eq(st, 200, "x-api-key on /v1/messages (Anthropic style) is served")
    st, _, body = gw.post("/v1/messages", ANTHROPIC, key=None,
                          headers={"x-api-key": USER_KEY.upper(), "anthropic-version": "2023-06-01"})
    refused("x-api-key on /v1/messages with the key's case changed", (st, body), (401,),
            "invalid_api_key")


def check_virtual(gw):
    demo_only = generate(gw, key_alias="demo-only", models=["demo"])
    st, _, _ = gw.post("/v1/chat/completions", CHAT, key=demo_only["key"])
    eq(st, 200, "a key for model demo is served on demo")
    st, _, body = gw.post("/v1/chat/completions", dict(CHAT, model="embed"), key=demo_only["key"])
    refused("a key for model demo asking for embed", (st, body), (403,), "model_not_allowed")
    st, _, body = gw.post("/v1/chat/completions", dict(CHAT, model="nosuchmodel"),
                          key=demo_only["key"])
    ok(st in (400, 403) and error_of(body) is not None,
       "a key for model demo asking for an unknown model: 400 or 403", (st, body))
    for what, text in (("model given twice", '{"model": "embed", "model": "demo"}'),
                       ("model given twice, once as an escaped key",
                        '{"model": "demo", "mod\\u0065l": "embed"}')):
        refused("a key for model demo, %s" % what,
                gw.post("/v1/chat/completions", text, key=demo_only["key"])[::2], (400,),
                "invalid_json")
    st, _, _ = gw.post("/v1/chat/completions", '{"model": "d\\u0065mo", "messages": []}',
                       key=demo_only["key"])
    eq(st, 200, "a key for model demo, the model's name escaped: served")
    secret = demo_only["key"]
    swapped = secret[:3] + secret[3:].swapcase()
    refused("a virtual key with its case changed", gw.post("/v1/chat/completions", CHAT,
            key=swapped)[::2], (401,), "invalid_api_key")
    refused("a virtual key's token (its SHA-256) instead of its secret",
            gw.post("/v1/chat/completions", CHAT, key=demo_only["token"])[::2], (401,),
            "invalid_api_key")

    doomed = generate(gw, key_alias="doomed")
    eq(gw.post("/v1/chat/completions", CHAT, key=doomed["key"])[0], 200, "a fresh key is served")
    st, _, body = gw.post("/key/delete", {"keys": ["doomed"]})
    eq(st, 200, "/key/delete revokes it")
    refused("a revoked key", gw.post("/v1/chat/completions", CHAT, key=doomed["key"])[::2],
            (401,), "key_revoked")
    refused("a revoked key on /v1/messages",
            gw.post("/v1/messages", ANTHROPIC, key=None, headers={"x-api-key": doomed["key"]})[::2],
            (401,), "key_revoked")

    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    brief = generate(gw, key_alias="brief", expires=until)
    eq(gw.post("/v1/chat/completions", CHAT, key=brief["key"])[0], 200,
       "a key before its expiry is served")
    time.sleep(max(0.0, time.mktime(time.strptime(until, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
                   - time.time()) + 0.5)
    refused("an expired key", gw.post("/v1/chat/completions", CHAT, key=brief["key"])[::2],
            (401,), "key_expired")
    return demo_only


def check_admin(gw, virtual):
    info = "/key/info?key=demo-only"
    routes = (("POST", "/key/generate", {}), ("GET", info, None),
              ("POST", "/key/update", {"key": "demo-only", "rpm_limit": 1}),
              ("POST", "/key/delete", {"keys": ["demo-only"]}), ("GET", "/key/list", None))
    other = generate(gw, key_alias="other")
    for method, path, body in routes:
        name = path.split("?")[0]
        st, _, b = gw.request(method, path, body, key=None)
        refused("%s without a key" % name, (st, b), (401,), "missing_api_key")
        # a virtual key may read its own /key/info (below), nobody else's
        virtual_key = other["key"] if name == "/key/info" else virtual["key"]
        for what, key in (("a virtual key", virtual_key), ("a listed key", USER_KEY),
                          ("a wrong master key", MASTER_KEY + "x"),
                          ("the master key in upper case", MASTER_KEY.upper()),
                          ("an empty bearer", "")):
            st, _, b = gw.request(method, path, body, key=key)
            refused("%s with %s" % (name, what), (st, b), (401, 403))
        st, _, b = gw.request(method, path, body, key=None, headers={"x-api-key": virtual_key})
        refused("%s with a virtual key as x-api-key" % name, (st, b), (401, 403))
    st, _, b = gw.request("GET", info, key=virtual["key"])
    ok(st == 200 and json.loads(b)["info"].get("key_alias") == "demo-only" and virtual["key"].encode() not in b,
       "/key/info: a virtual key reads its own, without its secret", b)
    st, _, b = gw.request("GET", info)
    ok(st == 200 and json.loads(b)["info"].get("rpm_limit") is None,
       "and none of them changed the key", b)
    st, _, b = gw.post("/v1/chat/completions", CHAT, key=virtual["key"])
    eq(st, 200, "and none of them revoked it")


def main():
    mock = Mock()
    gw = Gateway(mock)
    try:
        before = upstream_count(mock)
        check_malformed(gw)
        eq(upstream_count(mock), before, "no malformed or unknown key reached the provider")
        eq(len(gw.records()), 0, "and none left a ledger record")

        check_accepted_forms(gw)
        before, served = upstream_count(mock), len(gw.records())
        eq(served, 2, "the two requests served have their records")
        virtual = check_virtual(gw)
        check_admin(gw, virtual)
        time.sleep(0.5)     # the ledger sync interval is 200 ms
        # served in check_virtual and check_admin: demo-only three times, doomed, brief
        eq(upstream_count(mock) - before, 5, "only the requests served reached the provider")
        eq(len(gw.records()) - served, 5, "and only they have ledger records")
        st, _, _ = gw.request("GET", "/health")
        eq(st, 200, "the gateway is healthy after all of it")
        eq(gw.proc.poll(), None, "and still running")
    finally:
        gw.stop()
        mock.stop()
        gw.cleanup()
    done()


main()

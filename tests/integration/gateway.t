#!/usr/bin/python3
"""tollgated end to end: every endpoint streamed and not against the mock
provider, costs in headers and in the ledger, errors, retries, reloads,
crashes, client disconnects and a graceful stop."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import (BUILD, MASTER_KEY, USER_KEY, Gateway, Mock, diag, done, eq, ok, spawn, wait_until)  # noqa: E402


def sse_events(data):
    return [e for e in data.decode().split("\n\n") if e.strip()]


def chat(gw, model="demo", stream=False, mock=None, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    if mock:
        body["mock"] = mock
    body.update(extra)
    return gw.post("/v1/chat/completions", body)


def test_non_streaming(gw, mock):
    st, h, data = chat(gw)
    eq(st, 200, "chat completion: 200")
    body = json.loads(data)
    ok(body.get("choices") and body["usage"]["prompt_tokens"] == 1000, "the provider's body comes back unchanged")
    # 1000 * 1.5e-7 + 50 * 6e-7
    eq(h.get("x-tollgate-response-cost"), "0.00018", "x-tollgate-response-cost is the exact cost")
    rid = h.get("x-tollgate-request-id", "")
    ok(rid.startswith("req_"), "x-tollgate-request-id is set")
    last = mock.get("/mock/last")
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    eq(hdrs.get("authorization"), "Bearer mock-upstream-key", "the provider gets the deployment's key, not the client's")
    eq(json.loads(last["body"])["model"], "gpt-4o-mini", "the body upstream names the deployment's model")
    rec = gw.record(rid)
    ok(rec is not None, "the request has a ledger record", gw.logtext()[-2000:])
    if rec:
        eq(rec.get("cost_usd"), "0.00018", "the record's cost equals the header")
        eq(rec.get("status"), 200, "the record has the status")
        eq(rec.get("model_requested"), "demo", "and the model asked for")
        eq(rec.get("priced_as"), "gpt-4o-mini", "and the price-map entry")
        eq(rec.get("key"), "master", "and the key's id, not the secret")

    st, h, data = gw.post("/chat/completions", {"model": "demo", "messages": [], "user": "cust-1",
                                                "metadata": {"tags": ["a", "b"]}},
                          key=USER_KEY, headers={"x-tollgate-tags": "c"})
    eq(st, 200, "without the /v1 prefix, with a listed client key")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and rec.get("customer") == "cust-1" and rec.get("tags") == "a,b,c",
       "customer from 'user', tags from metadata.tags and x-tollgate-tags", rec)
    ok(rec and rec.get("key", "").startswith("key:") and USER_KEY not in json.dumps(rec),
       "a listed key is recorded by hash", rec)


def test_streaming(gw, mock):
    st, h, data = chat(gw, stream=True, mock={"chunks": 5})
    eq(st, 200, "streamed chat: 200")
    evs = sse_events(data)
    ok(evs[-1].strip() == "data: [DONE]", "ends with [DONE]", evs[-3:])
    ok(evs[-2].startswith(": tollgate-cost "), "the cost comment just before the end", evs[-3:])
    eq(evs[-2].strip(), ": tollgate-cost 0.00018", "and it is exact")
    ok(not any('"choices":[]' in e or '"choices": []' in e for e in evs),
       "the usage chunk tollgate asked for is not shown to the client")
    last = json.loads(mock.get("/mock/last")["body"])
    eq(last.get("stream_options"), {"include_usage": True}, "tollgate asked upstream for usage")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and rec.get("cost_usd") == "0.00018", "the streamed request is recorded at its cost", rec)

    st, h, data = chat(gw, stream=True, mock={"chunks": 3}, stream_options={"include_usage": True})
    evs = sse_events(data)
    ok(any('"choices":[]' in e or '"choices": []' in e for e in evs),
       "a client that asked for usage keeps its usage chunk")


def test_endpoints(gw):
    st, h, data = gw.post("/v1/completions", {"model": "demo", "prompt": "hi"})
    ok(st == 200 and h.get("x-tollgate-response-cost") == "0.00018", "/v1/completions priced", (st, h))
    st, h, data = gw.post("/v1/completions", {"model": "demo", "prompt": "hi", "stream": True})
    ok(st == 200 and b": tollgate-cost 0.00018" in data, "/v1/completions streamed and priced", data[-300:])
    st, h, data = gw.post("/v1/embeddings", {"model": "embed", "input": "hi", "mock": {"prompt_tokens": 10}})
    ok(st == 200 and h.get("x-tollgate-response-cost") == "0.0000002", "/v1/embeddings priced (10 * 2e-8)", (st, h, data[:200]))
    st, h, data = gw.post("/v1/responses", {"model": "demo", "input": "hi",
                                            "mock": {"cached_tokens": 200, "reasoning_tokens": 10}})
    # 800 * 1.5e-7 + 200 * 7.5e-8 + 50 * 6e-7
    ok(st == 200 and h.get("x-tollgate-response-cost") == "0.000165", "/v1/responses priced with cache", (st, h))
    st, h, data = gw.post("/v1/responses", {"model": "demo", "input": "hi", "stream": True})
    ok(st == 200 and b"response.completed" in data and b": tollgate-cost 0.00018" in data,
       "/v1/responses streamed and priced", data[-400:])
    body = {"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}],
            "mock": {"cached_tokens": 500, "cache_write_tokens": 100}}
    st, h, data = gw.post("/v1/messages", body, key=None, headers={"x-api-key": MASTER_KEY})
    # input 1000-500-100 = 400 * 3e-6 + 500 * 3e-7 + 100 * 3.75e-6 + 50 * 1.5e-5
    ok(st == 200 and h.get("x-tollgate-response-cost") == "0.002475", "/v1/messages with x-api-key, priced", (st, h, data[:300]))
    body["stream"] = True
    st, h, data = gw.post("/v1/messages", body, key=None, headers={"x-api-key": MASTER_KEY})
    evs = sse_events(data)
    ok(st == 200 and evs[-1].startswith("event: message_stop") and evs[-2].strip() == ": tollgate-cost 0.002475",
       "/v1/messages streamed: cost comment before message_stop", evs[-3:])
    st, h, data = gw.request("GET", "/v1/models")
    names = [m["id"] for m in json.loads(data)["data"]] if st == 200 else []
    ok(st == 200 and "demo" in names and "claude" in names, "/v1/models lists model_list", data[:300])
    st, h, data = gw.request("GET", "/health", key=None)
    ok(st == 200 and json.loads(data)["status"] == "ok", "/health")
    st, h, data = gw.post("/v1/chat/completions", {"model": "priced", "messages": [],
                                                   "mock": {"prompt_tokens": 100, "completion_tokens": 10}})
    eq(h.get("x-tollgate-response-cost"), "0.00012", "model_info prices override the map (100*1e-6 + 10*2e-6)")


def test_errors(gw, mock):
    def err_of(resp):
        st, h, data = resp
        try:
            e = json.loads(data)["error"]
            return st, e.get("type"), e.get("code"), e.get("message")
        except Exception:
            return st, None, None, data[:200]

    st, _, code, _ = err_of(gw.post("/v1/chat/completions", {"model": "demo"}, key=None))
    ok(st == 401 and code == "missing_api_key", "no key: 401", (st, code))
    st, _, code, _ = err_of(gw.post("/v1/chat/completions", {"model": "demo"}, key="sk-wrong"))
    ok(st == 401 and code == "invalid_api_key", "wrong key: 401", (st, code))
    st, _, code, _ = err_of(gw.post("/v1/chat/completions", {"model": "demo"}, key=MASTER_KEY.upper()))
    ok(st == 401, "wrong-case key: 401")
    st, _, code, msg = err_of(gw.post("/v1/chat/completions", '{"model": "demo",, }'))
    ok(st == 400 and code == "invalid_json", "malformed JSON: 400", (st, code, msg))
    st, _, code, msg = err_of(gw.post("/v1/chat/completions", {"model": "nope"}))
    ok(st == 400 and code == "model_not_found" and "nope" in msg, "unknown model: 400 naming it", (st, code, msg))
    st, _, code, _ = err_of(gw.post("/v1/chat/completions", {"messages": []}))
    ok(st == 400 and code == "missing_model", "no model: 400", (st, code))
    st, _, code, _ = err_of(gw.post("/v1/chat/completions", {"model": "demo", "pad": "x" * 70000}))
    ok(st == 413, "a body over max_body_bytes: 413", (st, code))
    st, _, code, _ = err_of(gw.request("GET", "/v1/chat/completions"))
    ok(st == 405, "GET on a POST endpoint: 405", (st, code))
    st, _, code, _ = err_of(gw.request("GET", "/v1/nothing"))
    ok(st == 404, "unknown path: 404", (st, code))
    st, _, code, _ = err_of(gw.post("/v1/embeddings", {"model": "claude", "input": "x"}))
    ok(st == 400 and code == "unsupported_endpoint", "an Anthropic deployment on /v1/embeddings: 400",
       (st, code))
    st, h, data = gw.post("/v1/chat/completions", {"model": "dead", "messages": []})
    st2, _, code, _ = err_of((st, h, data))
    ok(st == 502 and code == "upstream_unreachable", "unreachable provider: 502", (st, code))
    st, _, code, _ = err_of(chat(gw, model="slow", mock={"fault": "slow_headers"}))
    ok(st == 504 and code == "upstream_timeout", "provider timeout: 504", (st, code))
    st, h, data = chat(gw, mock={"status": 429})
    ok(st == 429 and json.loads(data).get("error"), "a provider error passes through unchanged", (st, data[:200]))
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and rec.get("status") == 429 and "upstream_error" in rec.get("flags", []),
       "and is recorded, flagged upstream_error", rec)
    st, h, data = chat(gw, mock={"fault": "malformed"})
    ok(st == 200, "a malformed provider body still reaches the client", st)
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and "usage_missing" in rec.get("usage_flags", []), "and its record is flagged usage_missing", rec)
    # nothing above crashed a worker
    st, h, data = chat(gw)
    eq(st, 200, "the gateway still serves after every error")


def test_nul(gw, mock):
    """A string tollgate decides on may not hold a NUL: as a C string "demo\u0000evil" is
    "demo", while the provider would read it whole."""
    served = mock.get("/mock/stats")
    before = len(gw.records())
    cases = [
        ('"model": "demo\\u0000evil"', "model"),
        ('"model": "demo", "user": "cust\\u0000other"', "user"),
        ('"model": "demo", "service_tier": "flex\\u0000x"', "service_tier"),
        ('"model": "demo", "metadata": {"tags": ["a", "b\\u0000c"]}', "metadata.tags"),
    ]
    for fields, field in cases:
        st, h, data = gw.post("/v1/chat/completions", '{%s, "messages": []}' % fields)
        try:
            e = json.loads(data)["error"]
        except Exception:
            e = {}
        ok(st == 400 and e.get("type") == "invalid_request_error" and e.get("param") == field and
           "'%s'" % field in e.get("message", "") and "NUL" in e.get("message", ""),
           "a NUL in %s: 400 naming the field, in OpenAI's format" % field, (st, data[:300]))
    body = '{"model": "claude\\u0000x", "max_tokens": 10, "messages": []}'
    st, h, data = gw.post("/v1/messages", body, key=None, headers={"x-api-key": MASTER_KEY})
    try:
        e = json.loads(data)
    except Exception:
        e = {}
    ok(st == 400 and e.get("type") == "error" and e.get("error", {}).get("type") == "invalid_request_error" and
       "'model'" in e.get("error", {}).get("message", ""),
       "on /v1/messages in Anthropic's format", (st, data[:300]))
    eq(mock.get("/mock/stats"), served, "none of them reached the provider")
    eq(len(gw.records()), before, "nor the ledger")
    st, h, data = gw.post("/v1/chat/completions", '{"model": "demo\\\\u0000evil", "messages": []}')
    ok(st == 400 and json.loads(data)["error"].get("code") == "model_not_found",
       "an escaped backslash before u0000 is no NUL: the model is unknown", (st, data[:300]))
    st, h, data = gw.post("/v1/chat/completions", '{"model": "demo", "user": "\\ud83d\\ude00", "messages": []}')
    rec = gw.record(h.get("x-tollgate-request-id")) if st == 200 else None
    ok(rec and rec.get("customer") == "\U0001f600", "a surrogate pair is read as one character", (st, rec))


def tollctl(gw, *args):
    return subprocess.run([os.path.join(BUILD, "tollctl")] + list(args), capture_output=True, text=True)


def test_reports(gw):
    import csv
    import io
    from decimal import Decimal
    recs = gw.records()
    out = tollctl(gw, "stat", "--ledger", gw.ledger, "--run-dir", gw.run_dir)
    ok(out.returncode == 0 and ("records           %d" % len(recs)) in out.stdout and "generation" in out.stdout,
       "tollctl stat: record count and the live price generation", out.stdout + out.stderr)
    out = tollctl(gw, "export", "--ledger", gw.ledger, "--since", "1h", "--until", "2100-01-01")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    ok(out.returncode == 0 and len(rows) == len(recs), "tollctl export: one CSV row per record", (len(rows), len(recs)))
    ok(sum(Decimal(r["cost_usd"]) for r in rows) == sum(Decimal(r["cost_usd"]) for r in recs),
       "and the same total cost, to the picodollar")
    out = tollctl(gw, "export", "--ledger", gw.ledger, "--since", "1h", "--until", "2100-01-01", "--format", "jsonl")
    ok(out.returncode == 0 and len(out.stdout.splitlines()) == len(recs), "tollctl export --format jsonl")
    out = tollctl(gw, "logs", "--ledger", gw.ledger, "--status", "4xx", "--json", "--limit", "1000")
    st = [json.loads(l)["status"] for l in out.stdout.splitlines()]
    ok(st and all(400 <= x < 500 for x in st), "tollctl logs --status 4xx", st)
    out = tollctl(gw, "logs", "--ledger", gw.ledger, "--flag", "upstream_error", "--json")
    fl = [json.loads(l)["flags"] for l in out.stdout.splitlines()]
    ok(fl and all("upstream_error" in f for f in fl), "tollctl logs --flag upstream_error", fl)
    out = tollctl(gw, "logs", "--ledger", gw.ledger, "--model", "claude", "--json")
    ok(out.stdout and all(json.loads(l)["model_requested"] == "claude" for l in out.stdout.splitlines()),
       "tollctl logs --model")
    for args, what in ((["logs", "--status", "2x"], "--status"), (["logs", "--since", "soon"], "--since"),
                       (["export", "--since", "1h"], "--until"), (["stat", "--ledger", "/nonexistent"], "/nonexistent")):
        out = tollctl(gw, *(args[:1] + ["--ledger", gw.ledger] + args[1:]) if "--ledger" not in args else args)
        ok(out.returncode == 1 and what in out.stderr, "tollctl %s: a clear error" % " ".join(args), out.stderr)
    def spend_matches():
        out = tollctl(gw, "spend", "--ledger", gw.ledger, "--by", "model", "--format", "json")
        rows = [json.loads(l, parse_float=str) for l in out.stdout.splitlines()]
        return (sum(r["requests"] for r in rows) == len(recs) and
                sum(Decimal(str(r["cost_usd"])) for r in rows) == sum(Decimal(r["cost_usd"]) for r in recs) and
                sum(r["cache_read"] for r in rows) == sum(r["tokens"]["cache_read"] for r in recs))
    ok(wait_until(spend_matches, 15), "the accountant's aggregates: tollctl spend equals the raw records "
       "(requests, cost, cache reads)")
    ok(wait_until(lambda: "accountant lag    0 records" in
                  tollctl(gw, "stat", "--ledger", gw.ledger, "--run-dir", gw.run_dir).stdout, 10),
       "tollctl stat: the accountant has caught up (lag 0)")
    follow = spawn([os.path.join(BUILD, "tollctl"), "logs", "--ledger", gw.ledger, "--follow",
                    "--json", "--limit", "1"], stdout=subprocess.PIPE, text=True)
    try:
        first = follow.stdout.readline()
        st, h, _ = chat(gw)
        line = follow.stdout.readline()
        ok(json.loads(line).get("id") == h.get("x-tollgate-request-id"), "tollctl logs --follow shows the new record",
           (first, line))
    finally:
        follow.kill()
        follow.wait()


def test_retry(gw, mock):
    before = mock.get("/mock/stats")["requests"]
    results = [chat(gw, model="multi")[0] for _ in range(4)]
    eq(results, [200] * 4, "two deployments, one down: every request succeeds")
    eq(mock.get("/mock/stats")["requests"] - before, 4, "each served once by the live deployment")


def load(gw, stop, counts, errors, model="demo", stream=False):
    while not stop.is_set():
        try:
            st, h, data = chat(gw, model=model, stream=stream, mock={"chunks": 3})
            if st == 200 and (not stream or data.rstrip().endswith(b"[DONE]")):
                counts.append((h.get("x-tollgate-request-id"), h.get("x-tollgate-response-cost"), data))
            else:
                errors.append((st, data[:200]))
        except Exception as e:
            errors.append(("exception", repr(e)))


def test_reload(gw):
    stop, counts, errors = threading.Event(), [], []
    threads = [threading.Thread(target=load, args=(gw, stop, counts, errors)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    with open(os.path.join(gw.dir, "prices.yaml")) as f:
        prices = f.read()
    with open(os.path.join(gw.dir, "prices.yaml"), "w") as f:
        f.write(prices.replace("input_cost_per_token: 1.5e-7", "input_cost_per_token: 3e-7"))
    gw.proc.send_signal(signal.SIGHUP)
    # 1000 * 3e-7 + 50 * 6e-7
    changed = wait_until(lambda: chat(gw)[1].get("x-tollgate-response-cost") == "0.00033", 10)
    ok(changed, "after SIGHUP the next requests use the new price")
    with open(gw.config, "a") as f:
        f.write("  - model_name: [broken\n")
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    st, h, _ = chat(gw)
    ok(st == 200 and h.get("x-tollgate-response-cost") == "0.00033", "a bad config on SIGHUP keeps the old generation")
    ok("reload failed" in gw.logtext(), "and the log says why")
    gw.write_config()
    with open(gw.config, "a") as f:
        f.write("  - model_name: added\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
                "      api_base: http://127.0.0.1:%d/v1\n" % gw.mock.port)
    accountant = gw.children("accountant")
    gw.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: chat(gw, model="added")[0] == 200, 10), "a config change replaces the workers: new model served")
    ok(wait_until(lambda: len(gw.children("accountant")) == 1 and gw.children("accountant") != accountant, 15),
       "and the accountant: one, of the new generation", (accountant, gw.children("accountant")))
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    ok(not errors, "zero failed requests under load across reloads (%d served)" % len(counts), errors[:5])


def test_kill_worker(gw):
    stop, counts, errors = threading.Event(), [], []
    threads = [threading.Thread(target=load, args=(gw, stop, counts, errors)) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    workers = gw.children("worker")
    ok(len(workers) == 2, "two workers run", workers)
    os.kill(workers[0], signal.SIGKILL)
    ok(wait_until(lambda: len(gw.children("worker")) == 2 and workers[0] not in gw.children("worker"), 15),
       "a worker killed with SIGKILL is respawned")
    time.sleep(0.5)
    acct = gw.children("accountant")
    os.kill(acct[0], signal.SIGKILL)
    ok(wait_until(lambda: len(gw.children("accountant")) == 1 and acct[0] not in gw.children("accountant"), 15),
       "so is the accountant")
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    ids = set(r.get("id") for r in gw.records(100000))
    missing = [c[0] for c in counts if c[0] not in ids]
    ok(counts and not missing, "every completed response has its record (%d responses)" % len(counts), missing[:5])
    diag("requests that failed while the worker died: %d" % len(errors))


def test_client_abort(gw):
    body = json.dumps({"model": "demo", "stream": True, "messages": [],
                       "mock": {"chunks": 50, "chunk_delay_ms": 50}})
    s = socket.create_connection(("127.0.0.1", gw.port))
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (MASTER_KEY, len(body), body)).encode())
    got = b""
    while b"data:" not in got:
        got += s.recv(4096)
    s.close()
    def aborted():
        return any("client_aborted" in r.get("flags", []) for r in gw.records(50))
    ok(wait_until(aborted, 10), "a client gone mid-stream: the record is written, flagged client_aborted")


def test_graceful_stop(gw):
    result = {}

    def slow():
        result["r"] = chat(gw, mock={"latency_ms": 1500})
    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    rc = gw.stop(signal.SIGTERM)
    t.join()
    ok(result.get("r") and result["r"][0] == 200, "SIGTERM: the request in flight completes")
    eq(rc, 0, "and tollgated exits 0")
    rid = result["r"][1].get("x-tollgate-request-id") if result.get("r") else None
    ok(rid and gw.record(rid) is not None, "with its record in the ledger")


def main():
    mock = Mock()
    gw = Gateway(mock)
    try:
        test_non_streaming(gw, mock)
        test_streaming(gw, mock)
        test_endpoints(gw)
        test_errors(gw, mock)
        test_nul(gw, mock)
        test_reports(gw)
        test_retry(gw, mock)
        test_client_abort(gw)
        test_reload(gw)
        test_kill_worker(gw)
        test_graceful_stop(gw)
    finally:
        gw.stop(signal.SIGKILL)
        gw.cleanup()
        mock.stop()
    done()


if __name__ == "__main__":
    main()

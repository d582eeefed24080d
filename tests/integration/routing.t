#!/usr/bin/python3
"""Routing as LiteLLM's router_settings say: retries (another deployment at
once, the same one after a back-off), cooldowns (allowed_fails in a minute, a
429's retry-after), fallbacks (general, context window, content policy, the
client's own), enable_pre_call_checks, the strategies (simple-shuffle by
weight, least-busy, latency-based, usage-based, cost-based, order), the
attempts' records and costs, LiteLLM's response headers, and the cooldown in
tollctl status and /metrics.  Each deployment has a mock provider of its own
whose faults the test sets while it runs (POST /mock/defaults), and whose
request count says where requests went."""
import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, done, eq, ok, wait_until  # noqa: E402

MINI_IN, MINI_OUT = Decimal("1.5e-7"), Decimal("6e-7")
SONNET_IN, SONNET_OUT = Decimal("3e-6"), Decimal("1.5e-5")


def post(mock, path, body):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=10)
    c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def set_faults(mock, **knobs):
    base = {"status": 0, "fault": "none", "fail_every": 0, "retry_after": 0, "retry_after_ms": 0,
            "retry_after_date": 0,
            "latency_ms": 0}
    base.update(knobs)
    st, data = post(mock, "/mock/defaults", base)
    if st != 200:
        raise RuntimeError("POST /mock/defaults: %d %r" % (st, data))


def count(mock):
    return mock.get("/mock/stats")["requests"]


def chat(gw, model, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}
    body.update(extra)
    return gw.post("/v1/chat/completions", body)


def deployment(name, mock, model="openai/gpt-4o-mini", extra=""):
    base = "http://127.0.0.1:%d%s" % (mock.port, "" if model.startswith("anthropic/") else "/v1")
    return """\
  - model_name: %s
    litellm_params:
      model: %s
      api_base: %s
      api_key: k-%d
%s""" % (name, model, base, mock.port, extra)


def status_json(gw):
    out = subprocess.run([os.path.join(BUILD, "tollctl"), "status", "--run-dir", gw.run_dir, "--json"],
                         capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr}


def metric(gw, name, group, model_id):
    st, _, data = gw.request("GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith(name + "{") and 'model_group="%s"' % group in line and \
                'model_id="%s"' % model_id in line:
            return float(line.rsplit(" ", 1)[1])
    return None


mocks = {n: Mock() for n in ("a", "b", "c", "f1", "f2", "big", "safe", "s")}
a, b, c, f1, f2, big, safe, s = (mocks[n] for n in ("a", "b", "c", "f1", "f2", "big", "safe", "s"))
gws = []


def gateway(models, router):
    gw = Gateway(a, models + "router_settings:\n" + router,
                 prepare=lambda g: open(os.path.join(g.dir, "prices.yaml"), "a").write(
                     "tiny-model:\n  input_cost_per_token: 1e-7\n  output_cost_per_token: 1e-7\n"
                     "  max_input_tokens: 50\n"))
    gws.append(gw)
    return gw


try:
    for m in mocks.values():
        set_faults(m)

    # ---- retries, cooldowns and fallbacks -------------------------------------------------
    models = (deployment("grp", f1, extra="    model_info:\n      id: dep-f1\n") +
              deployment("grp", f2, extra="    model_info:\n      id: dep-f2\n") +
              deployment("backup", a) +
              deployment("bigctx", big, model="anthropic/claude-sonnet-4-5") +
              deployment("safe", safe) +
              deployment("nofb", f1) + deployment("nofb", f2) +
              deployment("slowgrp", s, extra="      timeout: 1\n") + deployment("slowgrp", c) +
              deployment("small", c, model="openai/tiny-model"))
    router = """\
  num_retries: 2
  allowed_fails: 1
  cooldown_time: 2
  fallbacks: [{"grp": ["backup"]}]
  context_window_fallbacks: [{"grp": ["bigctx"]}, {"small": ["bigctx"]}]
  content_policy_fallbacks: [{"grp": ["safe"]}]
  enable_pre_call_checks: true
"""
    gw = gateway(models, router)

    # 500 on both: a retry on the other at once, the same one again after a back-off, then the fallback
    set_faults(f1, status=500)
    set_faults(f2, status=500)
    n1, n2, na = count(f1), count(f2), count(a)
    st, h, data = chat(gw, "grp")
    eq(st, 200, "500 from both deployments: the fallback answers")
    eq((h.get("x-litellm-model-group"), h.get("x-litellm-attempted-retries"),
        h.get("x-litellm-attempted-fallbacks")), ("backup", "2", "1"),
       "x-litellm-model-group, -attempted-retries, -attempted-fallbacks say so")
    eq((count(f1) - n1) + (count(f2) - n2), 3, "three attempts in the group: the first and two retries")
    ok(count(f1) - n1 >= 1 and count(f2) - n2 >= 1, "the first retry went to the other deployment",
       (count(f1) - n1, count(f2) - n2))
    eq(count(a) - na, 1, "then one to the fallback group")
    rec = gw.record(h.get("x-tollgate-request-id"))
    eq((rec["model_group"], rec["retries"], rec["fallbacks"], len(rec["attempts"])), ("backup", 2, 1, 3),
       "the record: the group that answered, 2 retries, 1 fallback, 3 failed attempts")
    eq([(x["status"], x["failure"]) for x in rec["attempts"]], [(500, "InternalServerError")] * 3,
       "each attempt's status and LiteLLM failure class")
    want = 1000 * MINI_IN + 50 * MINI_OUT
    eq((Decimal(rec["cost_usd"]), Decimal(h.get("x-litellm-response-cost")),
        Decimal(h.get("x-tollgate-response-cost"))), (want,) * 3,
       "unbilled attempts cost nothing: the record and both cost headers are the answer's cost")
    ok(h.get("x-litellm-model-id"), "x-litellm-model-id names the deployment")
    out = subprocess.run([os.path.join(BUILD, "tollctl"), "logs", "--ledger", gw.ledger, "--limit", "1"],
                         capture_output=True, text=True, timeout=30).stdout.splitlines()
    eq([line.split()[:5] for line in out[2:]],
       [["attempt", str(i), "openai/gpt-4o-mini", "InternalServerError", "500"] for i in (1, 2, 3)] +
       [["answered", "by", "openai/gpt-4o-mini", "of", "backup"]],
       "tollctl logs: the three failed attempts under the request, and who answered")

    # the failures cool both (allowed_fails 1: the second failure in a minute cools)
    eq(chat(gw, "grp")[0], 200, "again: the fallback answers")
    ok(wait_until(lambda: all(d["cooling"] for d in status_json(gw).get("deployments", [])
                              if d["model_group"] == "grp"), 5),
       "allowed_fails passed: both deployments of grp cooling, tollctl status says")
    ids = {d["model_id"]: d for d in status_json(gw)["deployments"] if d["model_group"] == "grp"}
    eq(sorted(ids), ["dep-f1", "dep-f2"], "model_info.id is the deployment's id")
    eq(metric(gw, "tollgate_deployment_cooling", "grp", "dep-f1"), 1.0, "/metrics: tollgate_deployment_cooling 1")
    ok((metric(gw, "tollgate_deployment_cooldowns_total", "grp", "dep-f1") or 0) >= 1,
       "/metrics: tollgate_deployment_cooldowns_total counts it")
    set_faults(f1)
    set_faults(f2)
    n1, n2, na = count(f1), count(f2), count(a)
    st, h, _ = chat(gw, "grp")
    eq((st, h.get("x-litellm-model-group"), count(f1) - n1 + count(f2) - n2, count(a) - na),
       (200, "backup", 0, 1), "every deployment cooling: the fallback at once, nothing sent to them")
    st, h, data = chat(gw, "nofb")
    eq(st, 200, "another group on the same providers has its own state: served")
    ok(wait_until(lambda: not any(d["cooling"] for d in status_json(gw)["deployments"]
                                  if d["model_group"] == "grp"), 10), "the cooldown ends (cooldown_time 2)")
    n1, n2 = count(f1), count(f2)
    codes = [chat(gw, "grp")[0] for _ in range(6)]
    eq(codes, [200] * 6, "after the cooldown: served")
    eq(count(f1) - n1 + count(f2) - n2, 6, "after the cooldown the group serves again, no fallback")

    # a 429 with retry-after cools that deployment for that long; the retry goes to the other
    set_faults(f1, status=429, retry_after=3)
    n1, n2 = count(f1), count(f2)
    for _ in range(8):
        st, h, _ = chat(gw, "grp")
        if st != 200:
            break
    eq(st, 200, "429 on one deployment: every request served")
    eq(count(f1) - n1, 1, "the 429 cooled it: one request reached it, the rest the other")
    d = [x for x in status_json(gw)["deployments"] if x["model_id"] == "dep-f1"][0]
    ok(d["cooling"] and 1 <= d["cooldown_remaining_s"] <= 3 and d["last_failure"] == "RateLimitError",
       "tollctl status: cooling for the retry-after's 3 s, RateLimitError", d)
    set_faults(f1)
    ok(wait_until(lambda: not [x for x in status_json(gw)["deployments"] if x["model_id"] == "dep-f1"][0]
                  ["cooling"], 10), "and comes back after it")
    # the same with Retry-After as an HTTP date 6 s ahead (whole seconds: 5 to 6 s from now), which
    # is longer than cooldown_time (2 s)
    set_faults(f1, status=429, retry_after=6, retry_after_date=1)
    n1 = count(f1)
    codes = [chat(gw, "grp")[0] for _ in range(4)]
    d = [x for x in status_json(gw)["deployments"] if x["model_id"] == "dep-f1"][0]
    ok(codes == [200] * 4 and count(f1) - n1 == 1 and d["cooling"] and 4 <= d["cooldown_remaining_s"] <= 6,
       "Retry-After as an HTTP date: cooled until then", (codes, count(f1) - n1, d))
    set_faults(f1)
    ok(wait_until(lambda: not [x for x in status_json(gw)["deployments"] if x["model_id"] == "dep-f1"][0]
                  ["cooling"], 10), "  and back after it")

    # a provider that billed a failed attempt: its usage priced into the request's total
    set_faults(f1, fault="error_usage")
    set_faults(f2, fault="error_usage")
    st, h, data = chat(gw, "grp", num_retries=0)
    rec = gw.record(h.get("x-tollgate-request-id"))
    billed = 1000 * MINI_IN + 50 * MINI_OUT
    eq((st, rec["retries"], rec["fallbacks"], len(rec["attempts"])), (200, 0, 1, 1),
       "the client's num_retries 0: straight to the fallback after one failure")
    eq(Decimal(rec["attempts"][0]["cost_usd"]), billed, "the billed attempt priced from its error's usage")
    eq((Decimal(rec["cost_usd"]), Decimal(h.get("x-litellm-response-cost"))), (2 * billed,) * 2,
       "the record and the cost header total both: the attempt and the answer")
    set_faults(f1)
    set_faults(f2)
    wait_until(lambda: not any(d["cooling"] for d in status_json(gw)["deployments"]
                               if d["model_group"] == "grp"), 10)

    # context window: no retry, the context fallback, translated to another provider
    set_faults(f1, fault="context_length")
    set_faults(f2, fault="context_length")
    n1, n2, nb = count(f1), count(f2), count(big)
    st, h, data = chat(gw, "grp")
    body = json.loads(data)
    eq((st, h.get("x-litellm-model-group"), count(f1) - n1 + count(f2) - n2, count(big) - nb),
       (200, "bigctx", 1, 1), "a context-length error: not retried, context_window_fallbacks answers")
    eq(body.get("object"), "chat.completion", "from Anthropic, translated back to the client's format")
    rec = gw.record(h.get("x-tollgate-request-id"))
    eq((rec["provider"], rec["attempts"][0]["failure"]), ("anthropic", "ContextWindowExceededError"),
       "the record: answered by Anthropic after a ContextWindowExceededError")
    eq(Decimal(rec["cost_usd"]), 1000 * SONNET_IN + 50 * SONNET_OUT,
       "priced from Anthropic's usage at Claude's price")

    # content policy
    set_faults(f1, fault="content_policy")
    set_faults(f2, fault="content_policy")
    ns = count(safe)
    st, h, _ = chat(gw, "grp")
    eq((st, h.get("x-litellm-model-group"), count(safe) - ns), (200, "safe", 1),
       "a content-policy refusal: content_policy_fallbacks answers")
    set_faults(f1)
    set_faults(f2)

    # the client's own fallbacks; the provider never sees them
    set_faults(f1, status=503)
    set_faults(f2, status=503)
    ns = count(safe)
    st, h, _ = chat(gw, "grp", fallbacks=["safe"], num_retries=1)
    eq((st, h.get("x-litellm-model-group"), h.get("x-litellm-attempted-retries"), count(safe) - ns),
       (200, "safe", "1", 1), "the request's fallbacks and num_retries are used instead of the router's")
    last = safe.get("/mock/last")
    sent = json.loads(last["body"])
    ok("fallbacks" not in sent and "num_retries" not in sent and last.get("verdict") == "ok",
       "fallbacks and num_retries are not sent upstream", last)
    st, _, data = chat(gw, "grp", fallbacks="safe")
    eq((st, json.loads(data)["error"].get("param")), (400, "fallbacks"),
       "fallbacks not a list: a 400 naming the parameter")
    set_faults(f1)
    set_faults(f2)
    wait_until(lambda: not any(d["cooling"] for d in status_json(gw)["deployments"]
                               if d["model_group"] == "grp"), 10)

    # every deployment cooling, no fallback: 429 with Retry-After
    set_faults(f1, status=429, retry_after=5)
    set_faults(f2, status=429, retry_after=5)
    chat(gw, "nofb")
    st, h, data = chat(gw, "nofb")
    ok(st == 429 and h.get("retry-after") and json.loads(data)["error"]["code"] == "no_deployments_available",
       "every deployment cooling and no fallback: 429 with Retry-After", (st, h, data))
    set_faults(f1)
    set_faults(f2)

    # a timeout is retried on the other deployment
    set_faults(s, fault="slow_headers")
    ok(all(chat(gw, "slowgrp")[0] == 200 for _ in range(3)), "a deployment timing out: the other one answers")
    set_faults(s)

    # enable_pre_call_checks: too long for tiny-model's max_input_tokens (50): never sent there
    nc, nb = count(c), count(big)
    st, h, _ = chat(gw, "small", messages=[{"role": "user", "content": "x" * 400}])
    eq((st, h.get("x-litellm-model-group"), count(c) - nc, count(big) - nb), (200, "bigctx", 0, 1),
       "pre-call checks: a prompt past max_input_tokens goes to the context fallback before sending")
    st, h, _ = chat(gw, "small")
    eq((st, h.get("x-litellm-model-group")), (200, "small"), "a short one is served by the group itself")

    gw.stop()
    gw.cleanup()

    # a stream cut after tokens reached the client: not retried, priced from what the provider
    # reported before the cut (Anthropic's message_start: the input, one output token), the
    # deployment's failure counted
    gw = gateway(deployment("cut", f1, model="anthropic/claude-sonnet-4-5",
                            extra="    model_info:\n      id: dep-cut\n") +
                 deployment("cut", f2, model="anthropic/claude-sonnet-4-5"),
                 "  routing_strategy: usage-based-routing-v2\n  allowed_fails: 5\n")
    set_faults(f1, fault="reset_mid_stream")
    set_faults(f2, fault="reset_mid_stream")
    n1, n2 = count(f1), count(f2)
    st, h, data = gw.post("/v1/messages", {"model": "cut", "stream": True, "max_tokens": 50,
                                           "messages": [{"role": "user", "content": "hi"}]})
    text = data.decode()
    ok(st == 200 and "content_block_delta" in text and "message_stop" not in text,
       "a stream cut mid-way: the client has the events sent before the cut, no end", (st, text[-200:]))
    eq((count(f1) - n1) + (count(f2) - n2), 1, "bytes had reached the client: no retry")
    r = gw.record(h.get("x-tollgate-request-id"))
    eq((r["tokens"]["input"], r["tokens"]["output"], Decimal(str(r["cost_usd"])), r["retries"],
        r["attempts"]), (1000, 1, 1000 * SONNET_IN + 1 * SONNET_OUT, 0, []),
       "the cut stream is priced from the usage reported before the cut")
    ok("stream_incomplete" in r["flags"] and "upstream_failed" in r["flags"],
       "its record says the stream ended before its end", r["flags"])
    deps = [d for d in status_json(gw)["deployments"] if d["model_group"] == "cut"]
    eq((sum(d["failures"] for d in deps), sorted(d["last_failure"] or "" for d in deps)),
       (1, ["", "InternalServerError"]), "the deployment that cut it counts a failure")
    set_faults(f1)
    set_faults(f2)
    gw.stop()
    gw.cleanup()

    # ---- fallbacks and the key's allowed models ---------------------------------------------
    def access_gateway(enforce):
        def prepare(g):
            with open(g.config) as f:
                text = f.read()
            with open(g.config, "w") as f:
                f.write(text.replace("general_settings:\n", "general_settings:\n"
                                     "  enforce_fallback_model_access: %s\n" % enforce, 1))
        g = Gateway(a, deployment("acc", f1) + deployment("acc-fb", b) + deployment("acc-fb2", c) +
                    "router_settings:\n  num_retries: 0\n"
                    "  fallbacks: [{\"acc\": [\"acc-fb\", \"acc-fb2\"]}]\n", prepare=prepare)
        gws.append(g)
        return g

    def new_key(g, models):
        st, _, data = g.post("/key/generate", {"models": models})
        return json.loads(data)["key"] if st == 200 else None

    set_faults(f1, status=500)
    gw = access_gateway("false")
    k = new_key(gw, ["acc"])
    st, h, _ = gw.post("/v1/chat/completions", {"model": "acc", "messages": [
        {"role": "user", "content": "hi"}]}, key=k)
    eq((st, h.get("x-litellm-model-group")), (200, "acc-fb"),
       "a key allowed only the model asked: the router's fallback serves it (LiteLLM's default)")
    nf, nb = count(f1), count(b)
    st, _, data = gw.post("/v1/chat/completions", {"model": "acc", "fallbacks": ["acc-fb"], "messages": [
        {"role": "user", "content": "hi"}]}, key=k)
    ok(st == 403 and b"model_not_allowed" in data and b"acc-fb" in data and
       (count(f1) - nf, count(b) - nb) == (0, 0),
       "a client's fallback the key may not use: 403 naming it, nothing sent", (st, data))
    gw.stop()
    gw.cleanup()
    gw = access_gateway("true")
    nb, nc = count(b), count(c)
    st, h, _ = gw.post("/v1/chat/completions", {"model": "acc", "messages": [
        {"role": "user", "content": "hi"}]}, key=new_key(gw, ["acc", "acc-fb2"]))
    eq((st, h.get("x-litellm-model-group"), count(b) - nb, count(c) - nc), (200, "acc-fb2", 0, 1),
       "enforce_fallback_model_access: the fallback the key may not use is skipped for the next one")
    nb, nc = count(b), count(c)
    st, _, data = gw.post("/v1/chat/completions", {"model": "acc", "messages": [
        {"role": "user", "content": "hi"}]}, key=new_key(gw, ["acc"]))
    eq((st, count(b) - nb, count(c) - nc), (500, 0, 0),
       "  none the key may use: the model's own error, no fallback tried")
    st, h, _ = chat(gw, "acc")
    eq((st, h.get("x-litellm-model-group")), (200, "acc-fb"), "  a key allowed every model falls back as before")
    set_faults(f1)
    gw.stop()
    gw.cleanup()

    # ---- the strategies ----------------------------------------------------------------
    def spread(gw, group, n, **extra):
        before = (count(a), count(b))
        codes = [chat(gw, group, **extra)[0] for _ in range(n)]
        return codes, (count(a) - before[0], count(b) - before[1])

    gw = gateway(deployment("w", a, extra="      weight: 9\n") + deployment("w", b, extra="      weight: 1\n"),
                 "  routing_strategy: simple-shuffle\n")
    codes, (na, nb) = spread(gw, "w", 200)
    ok(codes == [200] * 200 and na >= 150 and nb >= 3, "simple-shuffle by weight 9:1: %d and %d of 200" % (na, nb))
    gw.stop()
    gw.cleanup()

    gw = gateway(deployment("cheap", b, model="anthropic/claude-sonnet-4-5") + deployment("cheap", a),
                 "  routing_strategy: cost-based-routing\n")
    codes, (na, nb) = spread(gw, "cheap", 10)
    eq((codes, na, nb), ([200] * 10, 10, 0), "cost-based-routing: every request to the cheaper deployment")
    gw.stop()
    gw.cleanup()

    gw = gateway(deployment("u", a) + deployment("u", b), "  routing_strategy: usage-based-routing-v2\n")
    codes, (na, nb) = spread(gw, "u", 20)
    eq((codes, na, nb), ([200] * 20, 10, 10), "usage-based-routing-v2: the one with fewer tokens this minute")
    gw.stop()
    gw.cleanup()

    set_faults(a, latency_ms=300)
    gw = gateway(deployment("lat", a) + deployment("lat", b), "  routing_strategy: latency-based-routing\n")
    codes, (na, nb) = spread(gw, "lat", 12)
    eq((codes, na, nb), ([200] * 12, 1, 11), "latency-based-routing: measured once, then the faster one")
    gw.stop()
    gw.cleanup()

    set_faults(a, latency_ms=3000)
    gw = gateway(deployment("busy", a) + deployment("busy", b), "  routing_strategy: least-busy\n")
    held = []
    for _ in range(4):
        t = threading.Thread(target=lambda: held.append(chat(gw, "busy")[0]))
        t.start()
        wait_until(lambda: count(a) > 0 and any(d["in_flight"] for d in status_json(gw)["deployments"]), 0.3)
    before = count(a)
    codes = [chat(gw, "busy")[0] for _ in range(10)]
    eq((codes, count(a) - before), ([200] * 10, 0), "least-busy: none to the one with requests in flight")
    set_faults(a)
    gw.stop()
    gw.cleanup()

    gw = gateway(deployment("ord", f1, extra="      order: 1\n") + deployment("ord", b, extra="      order: 2\n"),
                 "  cooldown_time: 2\n")
    n1, nb = count(f1), count(b)
    codes = [chat(gw, "ord")[0] for _ in range(5)]
    eq((codes, count(f1) - n1, count(b) - nb), ([200] * 5, 5, 0), "order: all to order 1 while it is healthy")
    set_faults(f1, status=429, retry_after=2)
    n1, nb = count(f1), count(b)
    codes = [chat(gw, "ord")[0] for _ in range(5)]
    eq((codes, count(f1) - n1, count(b) - nb), ([200] * 5, 1, 5), "order 1 cooling: order 2 serves")
    set_faults(f1)
    gw.stop()
    gw.cleanup()

    # a retry and a fallback count on the rpm of the deployment they go to, as the first attempt
    # does: rl's order-1 deployment (rpm 3) fails, each retry goes to order 2 (rpm 2); src fails
    # and falls back to dst (rpm 2)
    gw = gateway(deployment("rl", f1, extra="      order: 1\n      rpm: 3\n") +
                 deployment("rl", b, extra="      order: 2\n      rpm: 2\n") +
                 deployment("src", c) + deployment("dst", a, extra="      rpm: 2\n"),
                 "  num_retries: 1\n  allowed_fails: 100\n  fallbacks: [{\"src\": [\"dst\"]}]\n")
    set_faults(f1, status=500)
    set_faults(c, status=500)
    if time.time() % 60 > 45:	# the counters are per calendar minute: all of this in one
        time.sleep(61 - time.time() % 60)
    n1, nb, na, nc = count(f1), count(b), count(a), count(c)
    got = [chat(gw, "rl") for _ in range(4)]
    eq([g[0] for g in got], [200, 200, 500, 429],
       "rl: two retries served by order 2 (rpm 2), the third finds it at its limit (the 500 is the "
       "answer), the fourth finds both at theirs (429)")
    eq((count(f1) - n1, count(b) - nb), (3, 2), "order 1 called three times, order 2 twice")
    ok(b"'rl' is at its rpm or tpm limit" in got[3][2], "the 429 names the model", got[3][2])
    eq(gw.record(got[0][1].get("x-tollgate-request-id"))["retries"], 1, "the first one retried once")
    got = [chat(gw, "src", num_retries=0) for _ in range(3)] + [chat(gw, "dst")]
    eq([g[0] for g in got], [200, 200, 500, 429],
       "src: two fallbacks served by dst (rpm 2), the third finds it at its limit, then dst itself 429")
    eq((count(c) - nc, count(a) - na), (3, 2), "src called three times, dst twice")
    set_faults(f1)
    set_faults(c)
    gw.stop()
    gw.cleanup()
    # under load: 8 clients, one of three deployments failing every other request
    set_faults(f1, fail_every=2)
    gw = gateway(deployment("load", a) + deployment("load", b) +
                 deployment("load", f1, model="openai/gpt-4o-mini-flaky"),
                 "  allowed_fails: 3\n  cooldown_time: 120\n")
    codes, lock = [], threading.Lock()

    def client():
        for _ in range(25):
            st = chat(gw, "load")[0]
            with lock:
                codes.append(st)
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eq((len(codes), [x for x in codes if x != 200]), (200, []),
       "8 clients, a deployment failing half its requests: no client error")
    recs = sorted(gw.records(), key=lambda r: r["start"])
    flaky = [any(x["deployment"] == "gpt-4o-mini-flaky" for x in r["attempts"]) or
             r["deployment"] == "gpt-4o-mini-flaky" for r in recs]
    fails, cooled_at = 0, None
    for i, r in enumerate(recs):
        fails += sum(1 for x in r["attempts"] if x["deployment"] == "gpt-4o-mini-flaky")
        if fails > 3 and cooled_at is None:
            cooled_at = i + 1
    ok(cooled_at is not None and any(d["cooling"] for d in status_json(gw)["deployments"]
                                     if d["deployment"] == "openai/gpt-4o-mini-flaky"),
       "the failing deployment cooled down (allowed_fails 3)")
    before = sum(flaky[:cooled_at or 0]) / max(1, cooled_at or 0)
    during = sum(flaky[cooled_at or 0:]) / max(1, len(recs) - (cooled_at or 0))
    print("# figure: share of requests reaching the failing deployment: %.1f%% of %d before its "
          "cooldown, %.1f%% of %d during it" % (100 * before, cooled_at or 0, 100 * during,
                                                len(recs) - (cooled_at or 0)))
    ok(during < before, "fewer of them reach it during its cooldown than before")
    set_faults(f1)
    gw.stop()
    gw.cleanup()
finally:
    for g in gws:
        g.stop()
        g.cleanup()
    for m in mocks.values():
        m.stop()
done()

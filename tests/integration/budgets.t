#!/usr/bin/python3
"""Virtual keys and budgets through a real gateway (two workers) and the mock
provider: the /key/ admin endpoints and who may use them; 64 concurrent
clients against a key's $1.00 budget and against a team budget shared by
three keys never spend past it (the ledger says so) and the rest get 429
budget_exceeded; the spend headers; a model the key may not use; a revoked
key refused at once; rpm limits; a budget window that resets; and a restart
that remembers the spend."""
import json
import os
import shutil
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Gateway, Mock, done, ok, wait_until  # noqa: E402

# $0.05 a request: 50 output tokens at $0.001, 10 input at $0.000001
PRICEY = """\
pricey:
  input_cost_per_token: 0.000001
  output_cost_per_token: 0.001
"""
MODELS = """\
  - model_name: pricey
    litellm_params:
      <<: *mock
      model: openai/pricey
  - model_name: limited
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
      rpm: 2
  - model_name: limited
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
      rpm: 2
"""
BUDGETS = """\
  budget_timezone: UTC
  budgets:
    - {scope: team, name: shared, max_budget: 1.00}
    - {scope: tag, name: short, max_budget: 0.11, budget_duration: 10s}
"""
BODY = {"model": "pricey", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
        "mock": {"prompt_tokens": 10, "completion_tokens": 50, "latency_ms": 20}}
PER_REQUEST = Decimal("0.05001")


def add_prices(gw):
    with open(os.path.join(gw.dir, "prices.yaml"), "a") as f:
        f.write(PRICEY)


def generate(gw, **attrs):
    status, _, body = gw.post("/key/generate", attrs)
    if status != 200:
        raise RuntimeError("key/generate: %d %s" % (status, body))
    return json.loads(body, parse_float=Decimal)


def key_id(k):
    return "key:" + k["token"][:16]


def ledger_spend(gw, kid=None, team=None):
    recs = gw.records(limit=100000)
    return sum((Decimal(r["cost_usd"]) for r in recs
                if (kid is None or r["key"] == kid) and (team is None or r.get("team") == team)),
               Decimal(0))


def hammer(gw, keys, clients=64, per_client=40):
    """clients threads send until refused; returns the statuses seen and one refusal."""
    statuses, refusals, lock = [], [], threading.Lock()

    def client(i):
        key = keys[i % len(keys)]
        for _ in range(per_client):
            st, h, body = gw.post("/v1/chat/completions", BODY, key=key)
            with lock:
                statuses.append(st)
                if st == 429:
                    refusals.append((h, json.loads(body)))
            if st != 200:
                return
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, refusals


def admin(gw):
    st, _, _ = gw.post("/key/generate", {}, key=None)
    ok(st == 401, "/key/generate without a key: 401", st)
    k = generate(gw, key_alias="plain")
    st, _, body = gw.post("/key/generate", {}, key=k["key"])
    ok(st == 403, "/key/generate with a virtual key: 403", (st, body))
    ok(k["key"].startswith("sk-") and len(k["key"]) >= 46 and len(k["token"]) == 64,
       "generate shows the secret once, and its SHA-256 token")
    st, _, body = gw.request("GET", "/key/info?key=plain")
    info = json.loads(body) if st == 200 else {}
    ok(st == 200 and "key" not in info.get("info", {}) and info["info"]["token"] == k["token"],
       "/key/info by alias: the token, never the secret", body)
    st, _, body = gw.request("GET", "/key/list")
    ok(st == 200 and k["token"] in json.loads(body)["keys"], "/key/list lists the token")
    st, _, body = gw.post("/key/generate", {"max_budget": "lots"})
    ok(st == 400 and b"max_budget" in body, "a bad field is a 400 naming it", body)
    st, _, body = gw.post("/key/update", {"key": "plain", "rpm_limit": 3})
    ok(st == 200 and json.loads(body)["rpm_limit"] == 3, "/key/update changes a field", body)
    st, _, body = gw.post("/key/update", '{"key": "plain", "max_budget": 19.99}')
    ok(st == 200 and b'"max_budget": 19.99,' in body, "/key/update keeps an amount exact (19.99)", body)
    other = generate(gw, key_alias="kept")
    st, _, body = gw.post("/key/delete", {"keys": ["kept", "no-such-key"]})
    ok(st == 404 and gw.post("/v1/chat/completions", dict(BODY, model="demo"), key=other["key"])[0] == 200,
       "/key/delete naming a missing key revokes none of them", (st, body))


def key_race(gw):
    k = generate(gw, key_alias="racer", max_budget=1.00, models=["pricey"])
    statuses, refusals = hammer(gw, [k["key"]])
    spent = ledger_spend(gw, key_id(k))
    ok(statuses.count(200) > 0 and statuses.count(429) > 0,
       "64 clients on a $1.00 key: some served, then 429", (statuses.count(200), statuses.count(429)))
    ok(spent <= Decimal("1.00"), "the ledger's spend for the key stays within $1.00 (%s)" % spent)
    ok(spent >= Decimal("1.00") - 2 * PER_REQUEST, "and the budget was used up to a request (%s)" % spent)
    ok(set(statuses) <= {200, 429}, "no other status", sorted(set(statuses)))
    h, body = refusals[0]
    err = body["error"]
    ok(err["type"] == "budget_exceeded" and err["code"] == "budget_exceeded" and "key budget" in err["message"]
       and "$1" in err["message"], "the 429 says which budget, spent and limit", err)
    st, h, _ = gw.post("/v1/chat/completions", BODY, key=k["key"])
    ok(st == 429 and "x-tollgate-key-spend" in h and h.get("x-tollgate-key-max-budget") == "1",
       "a refused request carries the spend headers too", h)
    body = dict(BODY, model="demo")
    st, _, resp = gw.post("/v1/chat/completions", body, key=k["key"])
    ok(st == 403 and b"model_not_allowed" in resp, "a model the key may not use: 403", (st, resp))
    return k, spent


def team_race(gw):
    keys = [generate(gw, team_id="shared")["key"] for _ in range(3)]
    statuses, refusals = hammer(gw, keys)
    spent = ledger_spend(gw, team="shared")
    ok(statuses.count(429) > 0 and spent <= Decimal("1.00"),
       "a team budget shared by three keys across both workers holds (%s)" % spent,
       (statuses.count(200), statuses.count(429)))
    ok(refusals and "team budget of shared" in refusals[0][1]["error"]["message"],
       "and the refusal names the team", refusals[:1])


def headers(gw):
    k = generate(gw, max_budget=5)
    st, h, _ = gw.post("/v1/chat/completions", BODY, key=k["key"])
    st2, h2, _ = gw.post("/v1/chat/completions", BODY, key=k["key"])
    ok(st == 200 and Decimal(h["x-tollgate-key-spend"]) == Decimal(h["x-tollgate-response-cost"]),
       "x-tollgate-key-spend counts the request it answers", h)
    ok(st2 == 200 and Decimal(h2["x-tollgate-key-spend"]) == 2 * Decimal(h["x-tollgate-response-cost"]),
       "and adds up", h2)
    ok(h.get("x-tollgate-key-max-budget") == "5", "x-tollgate-key-max-budget", h)


def revoke(gw):
    k = generate(gw)
    stop = threading.Event()
    seen = []

    def load():
        deadline = time.time() + 10
        while time.time() < deadline and (not stop.is_set() or seen[-1] != 401):
            seen.append(gw.post("/v1/chat/completions", BODY, key=k["key"])[0])
    t = threading.Thread(target=load)
    t.start()
    wait_until(lambda: len(seen) > 5, 10)
    st, _, body = gw.post("/key/delete", {"keys": [k["key"]]})
    after = gw.post("/v1/chat/completions", BODY, key=k["key"])
    stop.set()
    t.join()
    ok(st == 200 and k["token"] in json.loads(body)["deleted_keys"], "/key/delete revokes", body)
    ok(after[0] == 401 and b"revoked" in after[2], "the next request with it gets 401 at once", after[0])
    first = seen.index(401) if 401 in seen else len(seen)
    ok(200 in seen[:first] and seen[first:] and set(seen[first:]) == {401},
       "requests under load switch from 200 to 401 and stay refused", seen[first - 2:first + 3])


def rate_limit(gw):
    k = generate(gw, rpm_limit=5)
    for _ in range(3):
        minute = int(time.time()) // 60
        got = [gw.post("/v1/chat/completions", BODY, key=k["key"]) for _ in range(6)]
        if int(time.time()) // 60 == minute:
            break
        time.sleep(1)	# the minute turned mid-way: again, within one minute
    codes = [g[0] for g in got]
    ok(codes == [200] * 5 + [429], "rpm_limit 5: the sixth request in a minute gets 429", codes)
    h, body = got[5][1], json.loads(got[5][2])
    ok(body["error"]["type"] == "rate_limit_exceeded" and 1 <= int(h.get("retry-after", 0)) <= 60,
       "rate_limit_exceeded with Retry-After", (h.get("retry-after"), body))


def model_budget(gw):
    k = generate(gw, key_alias="per-model", model_max_budget={"pricey": {"budget_limit": 0.10,
                                                                          "time_period": "1d"}})
    codes = [gw.post("/v1/chat/completions", BODY, key=k["key"]) for _ in range(2)]
    ok([c[0] for c in codes] == [200, 429], "a $0.10 budget on one model: one $0.05 request, then 429",
       [c[0] for c in codes])
    err = json.loads(codes[1][2])["error"]
    ok(err["type"] == "budget_exceeded" and "model budget of pricey" in err["message"],
       "naming the model budget", err)
    st = gw.post("/v1/chat/completions", dict(BODY, model="demo"), key=k["key"])[0]
    ok(st == 200, "another model of the same key is not limited by it", st)
    st, _, body = gw.request("GET", "/key/info?key=per-model")
    mb = json.loads(body, parse_float=Decimal)["info"].get("model_max_budget", {})
    ok(st == 200 and mb.get("pricey") == {"budget_limit": Decimal("0.1"), "time_period": "1d"},
       "/key/info shows model_max_budget as LiteLLM writes it", mb)
    return k


def deployment_rpm(gw):
    body = dict(BODY, model="limited")
    for _ in range(3):
        minute = int(time.time()) // 60
        got = [gw.post("/v1/chat/completions", body) for _ in range(5)]
        if int(time.time()) // 60 == minute:
            break
        time.sleep(1)
    codes = [g[0] for g in got]
    ok(codes == [200] * 4 + [429], "two deployments with rpm 2: four served in a minute, the fifth 429",
       codes)
    err = json.loads(got[4][2])["error"]
    ok(err["type"] == "rate_limit_exceeded" and "model 'limited'" in err["message"] and
       1 <= int(got[4][1].get("retry-after", 0)) <= 60, "naming the model, with Retry-After", err)


def window_reset(gw):
    k = generate(gw)
    tagged = {"x-tollgate-tags": "short"}
    for _ in range(3):
        start = int(time.time()) // 10
        codes = [gw.post("/v1/chat/completions", BODY, key=k["key"], headers=tagged) for _ in range(3)]
        if int(time.time()) // 10 == start:
            break
        time.sleep(1)
    ok([c[0] for c in codes] == [200, 200, 429], "a $0.11 tag budget per 10s: two served, the third refused",
       [c[0] for c in codes])
    retry = int(codes[2][1].get("retry-after", 0))
    ok(1 <= retry <= 10, "Retry-After points at the window's end", retry)
    time.sleep(retry + 0.2)
    st = gw.post("/v1/chat/completions", BODY, key=k["key"], headers=tagged)[0]
    ok(st == 200, "after the reset the tag budget serves again", st)


def restart(gw, mock, racer, spent, per_model):
    gw.stop()
    gw2 = Gateway(mock, extra=MODELS, tollgate_extra=BUDGETS,
                  prepare=lambda g: (add_prices(g), shutil.rmtree(g.ledger, ignore_errors=True),
                                     shutil.copytree(gw.ledger, g.ledger)))
    try:
        st, h, _ = gw2.post("/v1/chat/completions", BODY, key=racer["key"])
        ok(st == 429 and Decimal(h["x-tollgate-key-spend"]) == spent,
           "after a restart the key's spend is rebuilt from the ledger and its budget still holds",
           (st, h.get("x-tollgate-key-spend"), spent))
        st = gw2.post("/v1/chat/completions", BODY, key=per_model["key"])[0]
        ok(st == 429, "and a model budget's spend too (from the raw records)", st)
        st, _, body = gw2.request("GET", "/key/info?key=racer")
        ok(st == 200 and Decimal(str(json.loads(body, parse_float=Decimal)["info"]["spend"])) == spent,
           "/key/info shows the spend", body)
    finally:
        gw2.stop()
        gw2.cleanup()


def main():
    mock = Mock()
    gw = Gateway(mock, extra=MODELS, tollgate_extra=BUDGETS, prepare=add_prices)
    try:
        admin(gw)
        racer, spent = key_race(gw)
        team_race(gw)
        headers(gw)
        revoke(gw)
        rate_limit(gw)
        per_model = model_budget(gw)
        deployment_rpm(gw)
        window_reset(gw)
        restart(gw, mock, racer, spent, per_model)
    finally:
        gw.stop()
        gw.cleanup()
        mock.stop()
    done()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""GET /metrics: valid Prometheus text exposition (checked by a strict parser
written here), counters equal to the ledger after a scripted load, no secret
in it, and metrics_auth."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, MASTER_KEY, USER_KEY, Gateway, Mock, done, eq, ok, wait_until  # noqa: E402

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*$")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class Invalid(Exception):
    pass


def parse_labels(text, lineno):
    labels, i = {}, 0
    while i < len(text):
        eqs = text.index("=", i) if "=" in text[i:] else -1
        if eqs < 0:
            raise Invalid("line %d: a label without '='" % lineno)
        name = text[i:eqs]
        if not LABEL.match(name) or name in labels:
            raise Invalid("line %d: bad or repeated label name %r" % (lineno, name))
        if text[eqs + 1:eqs + 2] != '"':
            raise Invalid("line %d: label value not quoted" % lineno)
        j, value = eqs + 2, ""
        while True:
            if j >= len(text):
                raise Invalid("line %d: unterminated label value" % lineno)
            c = text[j]
            if c == "\\":
                nxt = text[j + 1:j + 2]
                if nxt not in ("\\", '"', "n"):
                    raise Invalid("line %d: bad escape \\%s" % (lineno, nxt))
                value += "\n" if nxt == "n" else nxt
                j += 2
            elif c == '"':
                break
            elif c == "\n":
                raise Invalid("line %d: raw line feed in a label value" % lineno)
            else:
                value += c
                j += 1
        labels[name] = value
        i = j + 1
        if i < len(text):
            if text[i] != ",":
                raise Invalid("line %d: expected ',' between labels" % lineno)
            i += 1
    return labels


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in ("histogram", "summary"):
            return name[:-len(suffix)]
    return name


def parse(text):
    """Strict text format 0.0.4: returns {(name, frozenset(labels)): float}."""
    if not text.endswith("\n"):
        raise Invalid("the exposition does not end with a line feed")
    types, helps, samples, seen_families, current = {}, {}, {}, set(), None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.match(name):
                    raise Invalid("line %d: bad metric name %r" % (n, name))
                table = types if parts[1] == "TYPE" else helps
                if name in table:
                    raise Invalid("line %d: second %s for %s" % (n, parts[1], name))
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise Invalid("line %d: bad TYPE" % n)
                    if name in seen_families:
                        raise Invalid("line %d: TYPE after samples of %s" % (n, name))
                table[name] = parts[3] if len(parts) == 4 else ""
            continue
        if not line.strip():
            raise Invalid("line %d: empty line" % n)
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$", line)
        if not m:
            raise Invalid("line %d: not a sample: %r" % (n, line))
        name, labels = m.group(1), parse_labels(m.group(3) or "", n)
        try:
            value = float(m.group(4))
        except ValueError:
            raise Invalid("line %d: bad value %r" % (n, m.group(4)))
        fam = family_of(name, types)
        if fam != current:
            if fam in seen_families:
                raise Invalid("line %d: samples of %s are not together" % (n, fam))
            seen_families.add(fam)
            current = fam
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise Invalid("line %d: repeated series %s %s" % (n, name, labels))
        samples[key] = value
        if types.get(fam) == "counter" and value < 0:
            raise Invalid("line %d: negative counter" % n)
    for fam, t in types.items():
        if t != "histogram":
            continue
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in samples.items() if k[0] == fam + "_bucket")
        if not buckets or buckets[-1][0] != float("inf"):
            raise Invalid("%s: no +Inf bucket" % fam)
        if any(b[1] > c[1] for b, c in zip(buckets, buckets[1:])):
            raise Invalid("%s: buckets are not cumulative" % fam)
        if samples.get((fam + "_count", frozenset())) != buckets[-1][1] or (fam + "_sum", frozenset()) not in samples:
            raise Invalid("%s: _count differs from the +Inf bucket, or no _sum" % fam)
    return samples


def value(samples, metric, **labels):
    return samples.get((metric, frozenset(labels.items())))


def total(samples, metric, **match):
    return sum(v for (n, ls), v in samples.items() if n == metric and all(dict(ls).get(k) == w for k, w in match.items()))


def scrape(gw, key=None):
    st, h, body = gw.request("GET", "/metrics", key=key)
    return st, h, body.decode()


def parser_refuses(text):
    try:
        parse(text)
    except Invalid:
        return True
    return False


def main():
    # the parser itself: each of these breaks the format
    for bad, what in (("a 1\na 1\n", "a repeated series"), ('a{l="x} 1\n', "an unterminated label"),
                      ("a 1", "no final line feed"), ("# TYPE a counter\na -1\n", "a negative counter"),
                      ("a 1\nb 2\na 3\n", "a family split in two"), ('a{l="\\q"} 1\n', "a bad escape"),
                      ("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
                       "buckets that are not cumulative")):
        ok(parser_refuses(bad), "the strict parser refuses %s" % what)
    mock = Mock()
    gw = Gateway(mock, tollgate_extra="  budgets:\n    - {scope: team, name: red, max_budget: 5, budget_duration: 1d}\n")
    try:
        # a scripted load: a virtual key with an alias and a team, the master key, errors, a stream
        st, h, body = gw.post("/key/generate", {"key_alias": "ci-bot", "team_id": "red"})
        secret = json.loads(body).get("key", "")
        ok(st == 200 and secret.startswith("sk-"), "a virtual key for the load")
        for _ in range(4):
            gw.post("/v1/chat/completions", {"model": "demo", "messages": []}, key=secret)
        gw.post("/v1/chat/completions", {"model": "demo", "messages": [],
                                         "mock": {"cached_tokens": 300}})
        gw.post("/v1/chat/completions", {"model": "demo", "messages": [], "stream": True})
        gw.post("/v1/chat/completions", {"model": "priced", "messages": []}, key=USER_KEY)
        gw.post("/v1/chat/completions", {"model": "nope", "messages": []})
        gw.post("/v1/chat/completions", {"model": "demo", "messages": []}, key="sk-wrong")
        gw.post("/v1/chat/completions", {"model": "dead", "messages": []})

        def caught_up():
            st, h, text = scrape(gw)
            return value(parse(text), "tollgate_ledger_lag_records") == 0
        ok(wait_until(caught_up, 15), "the accountant catches up (tollgate_ledger_lag_records 0)")

        st, h, text = scrape(gw)
        eq(st, 200, "GET /metrics: 200")
        ok(h.get("content-type", "").startswith("text/plain; version=0.0.4"), "as Prometheus text 0.0.4", h)
        try:
            samples = parse(text)
            ok(True, "the exposition passes the strict parser (%d series)" % len(samples))
        except Invalid as e:
            ok(False, "the exposition passes the strict parser", str(e))
            samples = {}

        records = gw.records(100000)
        eq(total(samples, "tollgate_requests_total"), len(records), "requests_total adds up to the records in the ledger")
        spend = sum(Decimal(str(r.get("cost_usd", "0"))) for r in records)
        got = sum(Decimal(m.group(1)) for m in re.finditer(r"^tollgate_spend_usd_total\{[^}]*\} (\S+)$", text, re.M))
        eq(got, spend, "spend_usd_total adds up to the ledger's cost, to the picodollar")
        cached = sum(int(r.get("tokens", {}).get("cache_read", 0)) for r in records)
        eq(total(samples, "tollgate_tokens_total", category="cache_read"), cached,
           "cache-read tokens equal the ledger's (%d)" % cached)
        eq(total(samples, "tollgate_tokens_total", category="input"),
           sum(int(r.get("tokens", {}).get("input", 0)) for r in records), "input tokens equal the ledger's")
        # by the model_name asked for, with the deployment and price entry as labels
        by_model = {}
        for r in records:
            labels = (r.get("model_requested"), r.get("provider"), r.get("deployment"), r.get("priced_as") or "")
            by_model[labels] = by_model.get(labels, 0) + 1
        series = {tuple(dict(k[1]).get(n) for n in ("model", "provider", "deployment", "priced_as")): v
                  for k, v in samples.items() if k[0] == "tollgate_requests_total"}
        eq(series, by_model, "requests by model_name, provider, deployment and price entry match the ledger")
        ok(any(m == "priced" and p.startswith("deployment:priced/") for m, _, _, p in series),
           "a deployment with its own prices is under its model_name, its entry a label", sorted(series))
        key_spend = [(dict(k[1]), v) for k, v in samples.items() if k[0] == "tollgate_key_spend_usd_total"]
        ok(any(l.get("alias") == "ci-bot" and v > 0 for l, v in key_spend), "spend by key names the alias", key_spend)
        ok(total(samples, "tollgate_team_spend_usd_total", team="red") > 0, "spend by team")
        ok(value(samples, "tollgate_budget_limit_usd", scope="team", name="red", window="1d") == 5,
           "a configured budget's limit")
        rem = value(samples, "tollgate_budget_remaining_usd", scope="team", name="red", window="1d")
        ok(rem is not None and rem < 5, "and what is left of it", rem)
        eq(value(samples, "tollgate_responses_total", endpoint="/v1/chat/completions", code="401"), 1,
           "answers by endpoint and status: the 401")
        eq(value(samples, "tollgate_responses_total", endpoint="/v1/chat/completions", code="400"), 1, "the 400")
        eq(value(samples, "tollgate_records_committed_total"), len(records), "records committed equal the ledger's")
        eq(value(samples, "tollgate_upstream_seconds_count"), len(records), "one upstream latency per record")
        ok(value(samples, "tollgate_price_map_generation") == 1, "the price-map generation")
        for s in (MASTER_KEY, USER_KEY, secret, "mock-upstream-key", "anthropic-upstream-key"):
            ok(s not in text, "no secret in /metrics (%s...)" % s[:6])

        # a worker killed: counted as a restart
        kids = gw.children("worker")
        os.kill(kids[0], signal.SIGKILL)
        ok(wait_until(lambda: value(parse(scrape(gw)[2]), "tollgate_restarts_total", role="worker") == 1, 15),
           "a worker killed is counted in tollgate_restarts_total")
    finally:
        gw.stop()
        gw.cleanup()

    gw = Gateway(mock, tollgate_extra="  metrics_auth: true\n")
    try:
        eq(scrape(gw)[0], 401, "metrics_auth: no key, 401")
        eq(scrape(gw, key=USER_KEY)[0], 403, "a client key, 403")
        eq(scrape(gw, key=MASTER_KEY)[0], 200, "the master key, 200")
    finally:
        gw.stop()
        gw.cleanup()
        mock.stop()
    done()


if __name__ == "__main__":
    main()

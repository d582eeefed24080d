#!/usr/bin/python3
"""Deployments with prices of their own (model_info prices, a base_model) in
every report: their spend is under the model_name clients ask for in tollctl
spend, /metrics, the spend API the dashboard reads and the day exports, with
the provider's model and the price entry as further columns; the entry is
named after the deployment, never after its place in model_list, so that a
reorder of model_list and a reload change no name and the day's rows line up."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, config_text, done, eq, ok, teardown, wait_until  # noqa: E402

TOLLCTL = os.path.join(BUILD, "tollctl")
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
WINDOW = "start_date=%s&end_date=%s" % (TODAY, TODAY)

# three deployments priced by model_info: two with prices, one with a base_model
OWN = ["""\
  - model_name: gpt-x
    litellm_params:
      <<: *mock
      model: openai/gpt-4o
    model_info:
      input_cost_per_token: 2e-6
      output_cost_per_token: 8e-6
""", """\
  - model_name: claude-x
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:%(mock)d
      api_key: anthropic-upstream-key
    model_info:
      input_cost_per_token: 4e-6
      output_cost_per_token: 2e-5
""", """\
  - model_name: based-x
    litellm_params:
      <<: *mock
      model: openai/my-gpt
    model_info:
      base_model: gpt-4o-mini
"""]
# added by the reordered config: served once the reload is in place
MARKER = """\
  - model_name: reloaded
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
"""


def own_text(mock, order):
    return "".join(OWN[i] % {"mock": mock.port} for i in order)


def reordered(gw):
    """The config with OWN reversed and first in model_list, before the test config's models."""
    text = config_text(gw.mock.port, gw.port, gw.dead_port, MARKER, gw.tollgate_extra)
    return text.replace("model_list:\n", "model_list:\n" + own_text(gw.mock, (2, 1, 0)), 1)


def load(gw):
    """Two requests to gpt-x, one to claude-x and one to based-x; their statuses."""
    chat = "/v1/chat/completions"
    return [gw.post(chat, {"model": "gpt-x", "messages": [], "mock": {"prompt_tokens": 1000 + i,
                                                                      "completion_tokens": 100}})[0]
            for i in range(2)] + \
        [gw.post("/v1/messages", {"model": "claude-x", "max_tokens": 50, "messages": []})[0],
         gw.post(chat, {"model": "based-x", "messages": []})[0]]


def get(gw, path):
    st, h, body = gw.request("GET", path)
    return st, json.loads(body, parse_float=Decimal)


def spend(gw, *args):
    out = subprocess.run([TOLLCTL, "spend", "--ledger", gw.ledger, "--format", "json"] + list(args),
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("tollctl spend failed: " + out.stderr)
    return [json.loads(l, parse_float=Decimal) for l in out.stdout.splitlines() if l.strip()]


def ours(records):
    return [r for r in records if r["model_requested"] in ("gpt-x", "claude-x", "based-x")]


def lines_of(records):
    """{(model_name, provider, deployment, priced_as): (requests, cost)} straight from the records."""
    out = {}
    for r in records:
        k = (r["model_requested"], r["provider"], r["deployment"], r["priced_as"] or "")
        n, c = out.get(k, (0, Decimal(0)))
        out[k] = (n + 1, c + Decimal(r["cost_usd"]))
    return out


def entries(records):
    """{model_name: the set of price entries its records name}."""
    out = {}
    for r in records:
        out.setdefault(r["model_requested"], set()).add(r["priced_as"])
    return out


def caught_up(gw, records):
    total = spend(gw)
    return total and total[0]["requests"] == len(records)


def check_cli(gw, records, what):
    want = lines_of(records)
    got = {(l["model"], l.get("provider"), l.get("deployment"), l.get("priced_as")):
           (l["requests"], l["cost_usd"]) for l in spend(gw, "--by", "model", "--by", "provider")}
    eq(got, want, "%s: tollctl spend --by model --by provider: one line per model_name, deployment and "
       "price entry, equal to the records" % what)
    plain = spend(gw, "--by", "model")
    ok(all("deployment" in l and "priced_as" in l for l in plain),
       "%s: --by model alone brings the deployment and priced_as columns" % what, plain[:2])
    ok(not any(l["model"].startswith("deployment:") for l in plain),
       "%s: no line is named after a price entry" % what, [l["model"] for l in plain])
    one = spend(gw, "--model", "gpt-x")
    eq((one[0]["requests"], one[0]["cost_usd"]),
       (sum(n for k, (n, c) in want.items() if k[0] == "gpt-x"),
        sum(c for k, (n, c) in want.items() if k[0] == "gpt-x")), "%s: --model gpt-x" % what)
    entry = sorted(entries(records)["gpt-x"])[0]
    by_entry = spend(gw, "--priced-as", entry)
    eq(by_entry[0]["requests"], sum(1 for r in records if r["priced_as"] == entry),
       "%s: --priced-as %s" % (what, entry))


def check_metrics(gw, records, what):
    st, h, body = gw.request("GET", "/metrics")
    text = body.decode()
    got = {}
    for m in re.finditer(r'^tollgate_spend_usd_total\{model="([^"]*)",provider="([^"]*)",'
                         r'deployment="([^"]*)",priced_as="([^"]*)"\} (\S+)$', text, re.M):
        got[m.group(1, 2, 3, 4)] = Decimal(m.group(5))
    want = {k: c for k, (n, c) in lines_of(records).items()}
    eq(got, want, "%s: /metrics tollgate_spend_usd_total by model_name, provider, deployment and "
       "price entry equals the records" % what)
    ok(not re.search(r'model="deployment:', text), "%s: no series has a price entry as its model" % what)


def check_api(gw, records, what):
    want = lines_of(records)
    by_model = {}
    for (m, p, d, e), (n, c) in want.items():
        by_model.setdefault(m, {})[(p, d, e)] = (n, c)
    st, body = get(gw, "/spend/totals?%s&group_by=model" % WINDOW)
    got = {g["group"]: {(d["provider"], d["deployment"], d["priced_as"]):
                        (d["metrics"]["api_requests"], d["metrics"]["spend"]) for d in g["deployments"]}
           for g in body} if st == 200 else body
    eq(got, by_model, "%s: /spend/totals?group_by=model: each model_name with its deployments and "
       "price entries" % what)
    ok(st == 200 and all(g["metrics"]["spend"] == sum(d["metrics"]["spend"] for d in g["deployments"])
                         for g in body), "%s: a model's spend is its deployments'" % what)
    st, body = get(gw, "/spend/totals?%s&group_by=priced_as" % WINDOW)
    eq(sorted(g["group"] for g in body), sorted({k[3] for k in want}),
       "%s: /spend/totals?group_by=priced_as: the entries" % what)
    st, body = get(gw, "/user/daily/activity?" + WINDOW)
    models = body["results"][0]["breakdown"]["models"] if st == 200 and body["results"] else {}
    eq({m: (v["metrics"]["api_requests"], v["metrics"]["spend"]) for m, v in models.items()},
       {m: (sum(n for n, c in d.values()), sum(c for n, c in d.values())) for m, d in by_model.items()},
       "%s: /user/daily/activity breakdown.models (the dashboard's chart): by model_name" % what)
    st, body = get(gw, "/global/spend/report?%s&group_by=model" % WINDOW)
    eq(sorted(e["model"] for e in body), sorted(by_model), "%s: /global/spend/report?group_by=model" % what)
    st, body = get(gw, "/spend/logs?" + WINDOW)
    eq(sorted(body[0]["models"]) if st == 200 and body else body, sorted(by_model),
       "%s: /spend/logs day summary: models by model_name" % what)


def export_lines(path):
    """{(model, provider, deployment, priced_as): (requests, cost)} of a day's CSV export."""
    out = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            k = (r["model"], r["provider"], r["deployment"], r["priced_as"])
            n, c = out.get(k, (0, Decimal(0)))
            out[k] = (n + int(r["requests"]), c + Decimal(r["cost_usd"]))
    return out


def check_export(gw, exports, records, what):
    path = os.path.join(exports, "spend-%s.csv" % TODAY)
    want = lines_of(records)

    def current():
        return os.path.exists(path) and export_lines(path) == want
    ok(wait_until(current, 15), "%s: the day's export has a line per model_name, deployment and entry, "
       "equal to the records" % what, export_lines(path) if os.path.exists(path) else "no " + path)
    jsonl = path.replace(".csv", ".jsonl")

    def names():
        if not os.path.exists(jsonl):
            return "no " + jsonl
        with open(jsonl) as f:
            return {(r["model"], r["provider"], r["deployment"], r["priced_as"])
                    for r in (json.loads(l) for l in f if l.strip())}
    ok(wait_until(lambda: names() == set(want), 15), "%s: and the JSON Lines export the same names" % what,
       names())


def main():
    mock = Mock()
    exports = tempfile.mkdtemp(prefix="tollgate-models-")
    gw = Gateway(mock, extra=own_text(mock, (0, 1, 2)),
                 tollgate_extra="  export:\n    dir: %s\n    interval: 1s\n" % exports)
    try:
        eq(load(gw), [200] * 4, "the load: two gpt-x, one claude-x, one based-x")
        eq(gw.post("/v1/chat/completions", {"model": "demo", "messages": []})[0], 200,
           "and one to a model priced by the price map")
        before = gw.records()
        named = entries(ours(before))
        eq(sorted(named), ["based-x", "claude-x", "gpt-x"], "each of them has records")
        ok(all(len(named[m]) == 1 and next(iter(named[m])).startswith("deployment:%s/" % m)
               for m in ("gpt-x", "claude-x")),
           "a deployment with prices of its own is priced as its own entry, named after its model_name",
           named)
        eq(named["based-x"], {re.search(r"base_model: (\S+)", OWN[2]).group(1)},
           "one with a base_model alone is priced as that entry")
        ok(not any(re.match(r"deployment:\d+$", x) for e in named.values() for x in e),
           "no entry is named after its place in model_list", named)
        ok(wait_until(lambda: caught_up(gw, before), 15), "the accountant has counted them")
        check_cli(gw, before, "before")
        check_metrics(gw, before, "before")
        check_api(gw, before, "before")
        check_export(gw, exports, before, "before")

        # model_list reversed and moved ahead of every other model, then a reload
        with open(gw.config, "w") as f:
            f.write(reordered(gw))
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_until(lambda: gw.post("/v1/chat/completions", {"model": "reloaded", "messages": []})[0] == 200,
                      15), "the reordered config is loaded (SIGHUP)", gw.logtext()[-2000:])
        eq(load(gw), [200] * 4, "the same load after the reload")
        after = gw.records()
        eq(entries(ours(after)), named, "every model is priced as the same entry as before the reorder")
        ok(wait_until(lambda: caught_up(gw, after), 15), "the accountant has counted them")
        check_cli(gw, after, "after")
        check_metrics(gw, after, "after")
        check_api(gw, after, "after")
        check_export(gw, exports, after, "after")
        eq({k: n for k, (n, c) in lines_of(ours(after)).items()},
           {k: 2 * n for k, (n, c) in lines_of(ours(before)).items()},
           "yesterday's and today's rows line up: one line per model, holding both loads")

        # and once more from the records: what a rebuild makes of them
        r = subprocess.run([TOLLCTL, "aggregate", "--rebuild", "--ledger", gw.ledger], capture_output=True,
                           text=True)
        ok(r.returncode == 0, "tollctl aggregate --rebuild", r.stderr)
        check_cli(gw, after, "rebuilt")
    finally:
        teardown(gw, mock, exports)
    done()


main()

#!/usr/bin/python3
"""The provider's own cost: a mock that reports what it charged as OpenRouter
(usage.cost in USD), xAI (usage.cost_in_usd_ticks, 1e-10 USD) and DeepInfra
(usage.estimated_cost) do, matching tollgate's price and not.  With
provider_cost: compare (the default) the record keeps both and flags
cost_mismatch past cost_mismatch_threshold (1%), counted in /metrics; with
prefer the provider's figure is billed.  The mismatches raise one
cost_mismatch alert per model per alerts.cost_mismatch_window (2s here), to
a local webhook, and GET /spend/provider_cost, which the dashboard reads,
has the window's figures per model.  The expected figures are computed
here from the price map's rates and the mock's token counts."""
import datetime
import json
import os
import subprocess
import sys
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, Receiver, done, eq, ok, wait_until  # noqa: E402

PICO = Decimal(10) ** 12
# the mock's default usage, 1,000 prompt and 50 completion tokens, at gpt-4o-mini's rates
COMPUTED = 1000 * Decimal("1.5e-7") + 50 * Decimal("6e-7")		# $0.00018


def ask(gw, form, cost, stream=False):
    body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}],
            "mock": {"cost_form": form, "provider_cost": int(cost * PICO)}}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    st, h, _ = gw.post("/v1/chat/completions", body)
    return st, h, gw.record(h.get("x-tollgate-request-id"))


def metric(gw, name):
    _, _, data = gw.request("GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return None


ALERTS = """\
  alerts:
    cost_mismatch_window: 2s
    daily_summary: false
    channels:
      - {type: webhook, url: "http://127.0.0.1:%d/hook"}
"""

mock = Mock()
hooks = Receiver()
gw = None
try:
    gw = Gateway(mock, tollgate_extra=ALERTS % hooks.port)
    # the accountant's first look at the windows: what ended before it raises no alert
    ok(wait_until(lambda: "cost mismatches are looked at from" in gw.logtext(), 20),
       "the accountant begins looking at cost mismatch windows")
    cases = [  # form, reported cost, stream, mismatch?, what
        (1, COMPUTED, False, False, "OpenRouter usage.cost equal to tollgate's"),
        (1, COMPUTED * Decimal("1.01"), False, False, "OpenRouter 1% above: at the threshold, not past it"),
        (1, COMPUTED * Decimal("1.01") + Decimal("1e-12"), False, True,
         "OpenRouter 1% and a picodollar above: a mismatch"),
        (1, COMPUTED * Decimal("0.98"), True, True, "OpenRouter 2% below, in a stream's last chunk"),
        (2, COMPUTED * 2, False, True, "xAI ticks at twice the price"),
        (2, COMPUTED, True, False, "xAI ticks equal, streamed"),
        (3, COMPUTED, False, False, "DeepInfra estimated_cost equal"),
        (1, Decimal(0), False, True, "OpenRouter bring-your-own-key: cost 0 is the provider's word"),
    ]
    mismatches = 0
    for form, cost, stream, mismatch, what in cases:
        st, h, r = ask(gw, form, cost, stream)
        mismatches += mismatch
        eq((st, Decimal(str(r["cost_usd"])), Decimal(str(r["provider_cost_usd"])),
            "provider_cost" in r["flags"], "cost_mismatch" in r["flags"], "provider_billed" in r["flags"]),
           (200, COMPUTED, cost, True, mismatch, False), what + ": both kept, billed tollgate's")
    st, h, r = ask(gw, 0, Decimal(0))
    eq((r["provider_cost_usd"], [f for f in r["flags"] if "cost" in f or "billed" in f]), (None, []),
       "no cost in the answer: provider_cost_usd null, no flag")
    eq((metric(gw, "tollgate_provider_costs_total"), metric(gw, "tollgate_cost_mismatches_total")),
       (len(cases), mismatches), "/metrics counts the answers with a provider cost and the mismatches")
    # tollctl reconcile --provider-cost: per day and model, summed here from the cases
    today = datetime.datetime.now(datetime.timezone.utc).date()
    out = subprocess.run([os.path.join(BUILD, "tollctl"), "reconcile", "--provider-cost", "--ledger",
                          gw.ledger, "--since", str(today), "--until", str(today + datetime.timedelta(1)),
                          "--format", "json"], capture_output=True, text=True, timeout=60)
    rows = json.loads(out.stdout, parse_float=Decimal) if out.stdout.startswith("[") else out.stderr
    eq((out.returncode, rows), (3, [{"day": str(today), "model": "gpt-4o-mini", "records": len(cases),
                                     "mismatches": mismatches,
                                     "tollgate_cost_usd": COMPUTED * len(cases),
                                     "provider_cost_usd": sum(c[1] for c in cases),
                                     "delta_usd": sum(c[1] for c in cases) - COMPUTED * len(cases)}]),
       "tollctl reconcile --provider-cost: the day's records, mismatches and both costs, exit 3")
    day_row = dict(rows[0]) if isinstance(rows, list) and rows else {}
    day_row.pop("day", None)
    st, _, data = gw.request("GET", "/spend/provider_cost?start_date=%s&end_date=%s" % (today, today))
    got = json.loads(data, parse_float=Decimal) if st == 200 else data
    eq((st, got), (200, {"models": [day_row], "total": {k: v for k, v in day_row.items() if k != "model"}}),
       "/spend/provider_cost: the window's records, mismatches and both costs per model, as reconcile has them")
    st, _, _ = gw.request("GET", "/spend/provider_cost?start_date=%s" % today)
    eq(st, 400, "/spend/provider_cost without end_date: 400")

    def mismatch_alerts():
        return [d for d in (json.loads(b, parse_float=Decimal) for _, b in hooks.posts("/hook"))
                if d["type"] == "cost_mismatch"]
    mismatched = [c for c in cases if c[3]]
    ok(wait_until(lambda: sum(d["mismatches"] for d in mismatch_alerts()) >= len(mismatched), 30),
       "cost_mismatch alerts arrive once their windows close",
       [(d["window_start"], d["mismatches"]) for d in mismatch_alerts()])
    alerts = mismatch_alerts()
    eq(sorted(set((d["model"], d["window_start"]) for d in alerts)) ==
       sorted((d["model"], d["window_start"]) for d in alerts), True,
       "  one alert per model per window, not one per request (alerts: %d, mismatches: %d)"
       % (len(alerts), len(mismatched)))
    eq((sum(d["mismatches"] for d in alerts), sum(d["tollgate_cost_usd"] for d in alerts),
        sum(d["provider_cost_usd"] for d in alerts), sum(d["delta_usd"] for d in alerts)),
       (len(mismatched), COMPUTED * len(mismatched), sum(c[1] for c in mismatched),
        sum(c[1] for c in mismatched) - COMPUTED * len(mismatched)),
       "  together: the mismatched records, tollgate's and the provider's totals of them, exactly")
    ok(all(d["model"] == "gpt-4o-mini" and "gpt-4o-mini" in d["subject"] and
           "tollctl reconcile --provider-cost" in d["message"] for d in alerts),
       "  each names the model and where to look", alerts[:1])
    out = subprocess.run([os.path.join(BUILD, "tollctl"), "stat", "--ledger", gw.ledger, "--run-dir",
                          gw.run_dir], capture_output=True, text=True, timeout=60).stdout
    line = [x for x in out.splitlines() if x.startswith("provider costs")]
    eq(line, ["provider costs    %d records in the last 24 h stated by the provider, %d cost_mismatch"
              % (len(cases), mismatches)], "tollctl stat: the last day's provider costs and mismatches")
    gw.stop()
    gw.cleanup()

    gw = Gateway(mock, tollgate_extra="  provider_cost: prefer\n  cost_mismatch_threshold: 5%\n")
    reported = COMPUTED * Decimal("1.04")
    st, h, r = ask(gw, 1, reported)
    eq((Decimal(str(r["cost_usd"])), Decimal(h.get("x-tollgate-response-cost")),
        sum(Decimal(str(v)) for v in r["cost"].values()), "provider_billed" in r["flags"],
        "cost_mismatch" in r["flags"]), (reported, reported, COMPUTED, True, False),
       "prefer: the provider's figure billed (record and header), tollgate's kept per category; "
       "4% is within a 5% threshold")
    st, h, r = ask(gw, 2, COMPUTED * 3)
    eq((Decimal(str(r["cost_usd"])), "cost_mismatch" in r["flags"]), (COMPUTED * 3, True),
       "prefer: three times the price billed as the provider says, and flagged")
    st, h, r = ask(gw, 0, Decimal(0))
    eq((Decimal(str(r["cost_usd"])), "provider_billed" in r["flags"]), (COMPUTED, False),
       "prefer, and no cost in the answer: tollgate's price")
finally:
    if gw is not None:
        gw.stop()
    mock.stop()
    hooks.stop()
done()

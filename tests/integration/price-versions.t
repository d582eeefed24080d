#!/usr/bin/python3
"""Effective-dated prices: a model with versions in force from their dates.
A request is priced at the version in force when it started and its record
says which (price_version); a version dated in the future changes nothing,
for the gateway or for tollctl rerate; a correction dated in the past, loaded
with SIGHUP, prices the requests from then on, and tollctl rerate re-rates
exactly the requests of the affected window (those started since its date),
no other; tollctl prices show lists the versions and prices diff says from
when a change applies.  The expected costs are computed here from the rates
written below, not read from tollgate."""
import calendar
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, done, eq, ok, wait_until  # noqa: E402

TOLLCTL = os.path.join(BUILD, "tollctl")
IN, OUT = 1000, 50		# the mock's usage for every request
PAST, FUTURE = "2026-01-01", "2099-01-01"
VERSIONS = """\
gpt-4o-mini:
  - {effective_from: %s, input_cost_per_token: 2e-7, output_cost_per_token: 6e-7}
  - {effective_from: %s, input_cost_per_token: 9e-7, output_cost_per_token: 9e-7}
""" % (PAST, FUTURE)


def cost(rate_in, rate_out):
    return IN * Decimal(rate_in) + OUT * Decimal(rate_out)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def prepare(g):
    with open(os.path.join(g.dir, "versions.yaml"), "w") as f:
        f.write(VERSIONS)
    text = open(g.config).read().replace("price_files: [prices.yaml]",
                                         "price_files: [prices.yaml, versions.yaml]")
    open(g.config, "w").write(text)


def ask(gw):
    st, h, _ = gw.post("/v1/chat/completions", {"model": "demo", "messages": [
        {"role": "user", "content": "hi"}], "mock": {"prompt_tokens": IN, "completion_tokens": OUT}})
    rid = h.get("x-tollgate-request-id")
    got = []
    wait_until(lambda: got.append(gw.record(rid)) or got[-1] is not None, 10)
    return st, got[-1]


def tollctl(*args):
    return subprocess.run([TOLLCTL] + list(args), capture_output=True, text=True, timeout=60)


def start_s(rec):
    return calendar.timegm(time.strptime(rec["start"][:19], "%Y-%m-%dT%H:%M:%S"))


mock = Mock()
gw = Gateway(mock, prepare=prepare)
try:
    prices = [os.path.join(gw.dir, "prices.yaml"), os.path.join(gw.dir, "versions.yaml")]
    files = sum((["--prices", p] for p in prices), [])

    st, a = ask(gw)
    eq(st, 200, "a request to the model with versions")
    eq(Decimal(a["cost_usd"]), cost("2e-7", "6e-7"),
       "priced at the version in force now (from %s), not the future one (%s)" % (PAST, FUTURE))
    eq(a["price_version"], PAST + "T00:00:00.000000000Z", "its record names that version")

    r = tollctl("rerate", *files, "--since", "1h", "--until", "2100-01-01", "--model", "demo",
                "--ledger", gw.ledger, "--apply")
    ok(r.returncode == 0 and "0 adjustment records appended" in r.stdout,
       "tollctl rerate with the same map: a version dated in the future changes nothing",
       r.stdout + r.stderr)
    r = tollctl("rerate", *files, "--since", "1h", "--until", "2100-01-01", "--model", "demo",
                "--ledger", gw.ledger, "--as-of", "2099-06-01")
    want = cost("9e-7", "9e-7") - cost("2e-7", "6e-7")
    ok(r.returncode == 0 and format(want.normalize(), "f") in r.stdout,
       "--as-of 2099-06-01 prices it at the future version instead (+%s)" % want, r.stdout + r.stderr)

    # a correction dated between request a and the next ones
    corrected_from = int(time.time()) + 2
    while time.time() < corrected_from + 0.2:
        time.sleep(0.1)
    st, b = ask(gw)
    ok(start_s(b) >= corrected_from > start_s(a), "request b starts after the correction's date, a before",
       (a["start"], iso(corrected_from), b["start"]))
    eq(Decimal(b["cost_usd"]), cost("2e-7", "6e-7"), "b is priced before the correction is loaded")
    old_map = os.path.join(gw.dir, "versions-old.yaml")
    open(old_map, "w").write(VERSIONS)
    with open(prices[1], "a") as f:
        f.write("  - {effective_from: \"%s\", input_cost_per_token: 4e-7, output_cost_per_token: 6e-7}\n"
                % iso(corrected_from))
    gw.proc.send_signal(signal.SIGHUP)
    after = []
    ok(wait_until(lambda: after.append(ask(gw)[1]) or after[-1]["generation"] > a["generation"], 15),
       "SIGHUP loads the correction (a new generation)")
    c = after[-1]
    eq((Decimal(c["cost_usd"]), c["price_version"]),
       (cost("4e-7", "6e-7"), iso(corrected_from).replace("Z", ".000000000Z")),
       "a request after the reload is priced at the correction, and its record says so")

    r = tollctl("rerate", *files, "--since", "1h", "--until", "2100-01-01", "--model", "demo",
                "--ledger", gw.ledger, "--apply")
    stale = [x for x in [b] + after if Decimal(x["cost_usd"]) == cost("2e-7", "6e-7")]
    ok(r.returncode == 0 and "%d adjustment record%s appended" % (len(stale), "s" * (len(stale) != 1))
       in r.stdout,
       "tollctl rerate --apply: one adjustment for each of the %d requests of the window priced "
       "before the correction was loaded" % len(stale), r.stdout + r.stderr)
    adjs = {}
    wait_until(lambda: adjs.update({x["id"]: x for x in gw.records() if "adjustment" in x["flags"]}) or
               len(adjs) == len(stale), 10)
    eq(sorted(adjs), sorted("adj_" + x["id"] for x in stale),
       "adjustments for exactly the requests started since the correction's date, none for a")
    eq(set((Decimal(x["cost_usd"]), x["price_version"]) for x in adjs.values()),
       {(cost("4e-7", "6e-7") - cost("2e-7", "6e-7"), c["price_version"])},
       "each the difference to the correction, naming it")

    r = tollctl("prices", "show", "gpt-4o-mini", *files)
    lines = [x for x in r.stdout.splitlines() if x.startswith("from ")]
    eq((r.returncode, [x.split(" (")[0] for x in lines]),
       (0, ["from %sT00:00:00Z" % FUTURE, "from %s, in force now" % iso(corrected_from),
            "from %sT00:00:00Z" % PAST, "from the start"]),
       "tollctl prices show: the versions newest first, the one in force now marked")
    ok("  input_cost_per_token: 0.0000004" in r.stdout, "with their rates", r.stdout)
    r = tollctl("prices", "show", "demo-none", *files)
    ok(r.returncode == 1 and "demo-none" in r.stderr, "a model no entry prices: exit 1, named", r.stderr)
    r = tollctl("prices", "diff", "--json", old_map, prices[1])
    d = json.loads(r.stdout, parse_float=Decimal) if r.returncode == 0 else {"error": r.stderr}
    eq([(m["model"], m["from"], [(x["field"], x["old"], x["new"]) for x in m["rates"]])
        for m in d.get("changed", [d])],
       [("gpt-4o-mini", iso(corrected_from), [("input_cost_per_token", Decimal("2e-7"), Decimal("4e-7"))])],
       "tollctl prices diff: the change, from the correction's date")
    r = tollctl("prices", "diff", old_map, prices[1])
    ok("changed: gpt-4o-mini from %s" % iso(corrected_from) in r.stdout, "the same as text", r.stdout)

    # the running gateway's generation as one side of a diff
    r = tollctl("prices", "diff", "--json", "--run-dir", gw.run_dir, "running", prices[1])
    d = json.loads(r.stdout, parse_float=Decimal) if r.returncode == 0 else {"error": r.stderr}
    eq((d.get("old"), [m["from"] for m in d.get("changed", []) if m["model"] == "gpt-4o-mini"]),
       ("running (generation %d)" % c["generation"], [None]),
       "prices diff running FILE: the gateway's current generation; its dated gpt-4o-mini versions "
       "are the file's, only the undated one of prices.yaml differs")
    r = tollctl("prices", "diff", "--run-dir", os.path.join(gw.dir, "nowhere"), "running", prices[1])
    ok(r.returncode == 1 and "no running gateway" in r.stderr, "no gateway there: exit 1, said", r.stderr)

    # a version whose date does not parse is left out, said with its file and line
    bad = os.path.join(gw.dir, "bad.yaml")
    open(bad, "w").write("gpt-4o-mini:\n  - {effective_from: next week, input_cost_per_token: 1}\n")
    r = tollctl("prices", "show", "gpt-4o-mini", "--prices", prices[0], "--prices", bad)
    ok(r.returncode == 0 and "bad.yaml:2" in r.stderr and "next week" in r.stderr and
       [x.split(",")[0] for x in r.stdout.splitlines() if x.startswith("from ")] == ["from the start"],
       "an effective_from that is not a date: a warning naming file and line, the version left out",
       r.stdout + r.stderr)
finally:
    gw.stop()
    gw.cleanup()
    mock.stop()
done()

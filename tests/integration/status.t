#!/usr/bin/python3
"""tollctl status against a real gateway (two workers, budgets) and the mock
provider: the workers and the accountant it shows are the master's children;
requests held open upstream show as in flight (and reserved on the budgets)
and go back to 0; after priced requests each budget's spent equals the
ledger's cost for its scope; a reload with a changed config raises the
generation, the new workers serve and an old one that still has a request
shows as draining, then goes; no secret is printed; a stopped gateway, a dead
one and a file from another version are refused with exit 1."""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, MASTER_KEY, USER_KEY, Gateway, Mock, done, eq, ok, wait_until  # noqa: E402

BUDGETS = """\
  budget_timezone: UTC
  budgets:
    - {scope: global, max_budget: 100, budget_duration: 1d}
    - {scope: team, name: research, max_budget: 50, budget_duration: 1mo}
"""
BODY = {"model": "demo", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}],
        "mock": {"prompt_tokens": 1000, "completion_tokens": 100}}
NEW_MODEL = """\
  - model_name: added-by-reload
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
"""


def tollctl(*args):
    return subprocess.run([os.path.join(BUILD, "tollctl"), "status"] + list(args),
                          capture_output=True, text=True)


def status(gw):
    r = tollctl("--run-dir", gw.run_dir, "--json")
    if r.returncode != 0:
        raise RuntimeError("tollctl status: %d %s" % (r.returncode, r.stderr))
    return json.loads(r.stdout, parse_float=Decimal)


def budget(st, scope, name=""):
    for b in st["budgets"]:
        if b["scope"] == scope and b["name"] == name:
            return b
    return None


def ledger_cost(gw, **match):
    return sum((Decimal(r["cost_usd"]) for r in gw.records(limit=100000)
                if all(r.get(k) == v for k, v in match.items())), Decimal(0))


def hold_open(gw, n, ms, key=MASTER_KEY):
    """n requests the mock answers after ms; returns the threads and their statuses."""
    statuses = []

    def one():
        body = dict(BODY, mock=dict(BODY["mock"], latency_ms=ms))
        statuses.append(gw.post("/v1/chat/completions", body, key=key)[0])
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    return threads, statuses


def in_flight(st):
    return sum(w["in_flight"] for w in st["workers"])


def processes(gw, st):
    ok(sorted(w["pid"] for w in st["workers"]) == sorted(gw.children("worker")),
       "status shows the master's two workers, by pid", (st["workers"], gw.children("worker")))
    eq(len(st["workers"]), 2, "two workers")
    eq(st["master"]["pid"], gw.proc.pid, "the master's pid")
    ok(st["accountant"] is not None and [st["accountant"]["pid"]] == gw.children("accountant"),
       "the accountant's pid", (st["accountant"], gw.children("accountant")))
    ok(all(w["state"] == "serving" and w["generation"] == 0 for w in st["workers"]),
       "both serve generation 0", st["workers"])
    ok(st["master"]["price_generation"] == 1 and st["master"]["prices_published"],
       "price-map generation 1 and when it was published", st["master"])
    r = tollctl("--run-dir", gw.run_dir)
    ok(r.returncode == 0 and "tollgate running in " + gw.run_dir in r.stdout and
       all(str(p) in r.stdout for p in gw.children("worker")) and "draining" not in r.stdout,
       "the table names the run directory and both workers", r.stdout + r.stderr)


def load(gw, team_key):
    threads, statuses = hold_open(gw, 4, 6000)
    wait_until(lambda: in_flight(status(gw)) == 4, 15)
    st = status(gw)
    eq(in_flight(st), 4, "four requests held open upstream are in flight")
    g = budget(st, "global")
    ok(g is not None and Decimal(g["reserved_usd"]) > 0,
       "and reserved on the global budget while they are", g)
    for t in threads:
        t.join()
    eq(statuses, [200] * 4, "they are answered")
    wait_until(lambda: in_flight(status(gw)) == 0, 10)
    st = status(gw)
    eq(in_flight(st), 0, "in flight back to 0")
    eq(Decimal(budget(st, "global")["reserved_usd"]), 0, "and nothing reserved")
    eq(sum(w["served"] for w in st["workers"]) >= 4, True, "requests served counted")
    for _ in range(3):
        eq(gw.post("/v1/chat/completions", BODY, key=team_key)[0], 200, "a request of team research")
    st = status(gw)
    total, team = ledger_cost(gw), ledger_cost(gw, team="research")
    g, t = budget(st, "global"), budget(st, "team", "research")
    ok(total > 0 and Decimal(g["spent_usd"]) == total,
       "the global budget's spent equals the ledger's cost (%s)" % total, g)
    ok(team > 0 and Decimal(t["spent_usd"]) == team and team < total,
       "team research's spent equals the ledger's cost of its records (%s)" % team, t)
    eq(Decimal(t["remaining_usd"]), Decimal(50) - team, "remaining: the limit less spent")
    ok(t["window"] == "1mo" and t["resets"].endswith("-01T00:00:00Z"),
       "the team budget's window and next reset", t)
    eq(Decimal(g["limit_usd"]), Decimal(100), "the global limit")
    k = [b for b in st["budgets"] if b["scope"] == "key"]
    ok(len(k) == 1 and k[0]["name"].startswith("key:") and Decimal(k[0]["spent_usd"]) == team,
       "the key's own budget, by its id", k)


def reload(gw):
    old = sorted(gw.children("worker"))
    threads, statuses = hold_open(gw, 1, 8000)
    wait_until(lambda: in_flight(status(gw)) == 1, 10)
    gw.write_config(NEW_MODEL)
    gw.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: status(gw)["master"]["generation"] == 1, 15),
       "the generation goes to 1 after SIGHUP with a changed config")
    ok(wait_until(lambda: len([w for w in status(gw)["workers"] if w["generation"] == 1]) == 2, 15),
       "two workers of generation 1")
    st = status(gw)
    new = [w for w in st["workers"] if w["generation"] == 1]
    old_left = [w for w in st["workers"] if w["generation"] == 0]
    ok(all(w["state"] == "serving" and w["pid"] not in old for w in new) and
       all(w["pid"] in gw.children("worker") for w in new),
       "the new ones serve, new pids in the process tree", (new, old))
    busy = [w for w in old_left if w["in_flight"] > 0]
    ok(len(busy) == 1 and busy[0]["in_flight"] == 1 and
       all(w["state"] == "draining" and w["pid"] in old for w in old_left),
       "the old worker still answering shows as draining, its request in flight (the other "
       "drains or is gone)", st["workers"])
    r = tollctl("--run-dir", gw.run_dir)
    ok("draining" in r.stdout, "the table says draining too", r.stdout)
    for t in threads:
        t.join()
    eq(statuses, [200], "the held request is answered across the reload")
    ok(wait_until(lambda: all(w["generation"] == 1 for w in status(gw)["workers"]), 15),
       "then the old generation is gone", status(gw)["workers"])
    st = status(gw)
    ok(sorted(w["pid"] for w in st["workers"]) == sorted(gw.children("worker")),
       "status and the process tree agree again", (st["workers"], gw.children("worker")))


def secrets(gw, secret):
    outs = tollctl("--run-dir", gw.run_dir).stdout + tollctl("--run-dir", gw.run_dir, "--json").stdout
    ok(all(s not in outs for s in (secret, MASTER_KEY, USER_KEY, "mock-upstream-key")),
       "no secret in the output")


def not_running(gw):
    run_dir = gw.run_dir
    eq(gw.stop(), 0, "the gateway stops")
    r = tollctl("--run-dir", run_dir)
    ok(r.returncode == 1 and "not running" in r.stderr and run_dir in r.stderr and r.stdout == "",
       "stopped: 'not running', naming the run directory, exit 1", (r.returncode, r.stderr))


def dead_and_foreign():
    mock = Mock()
    gw = Gateway(mock)
    try:
        ok(tollctl("--run-dir", gw.run_dir).returncode == 0, "a second gateway runs")
        workers = gw.children("worker")
        os.kill(gw.proc.pid, signal.SIGKILL)
        gw.proc.wait(10)
        r = tollctl("--run-dir", gw.run_dir)
        ok(r.returncode == 1 and "not running" in r.stderr and "is gone" in r.stderr and
           gw.run_dir in r.stderr, "master killed: its file is not taken for live, exit 1",
           (r.returncode, r.stderr))
        wait_until(lambda: not any(os.path.exists("/proc/%d" % p) for p in workers), 15)
    finally:
        gw.stop()
        mock.stop()
        gw.cleanup()
    with tempfile.TemporaryDirectory() as d:
        r = tollctl("--run-dir", d)
        ok(r.returncode == 1 and "not running" in r.stderr and d in r.stderr,
           "an empty run directory: not running", r.stderr)
        with open(os.path.join(d, "tollgate.status"), "wb") as f:
            # the right magic, a later layout version, the size of this one's header
            f.write(struct.pack("<II", 0x74677374, 99) + bytes(200000))
        r = tollctl("--run-dir", d)
        ok(r.returncode == 1 and "incompatible" in r.stderr and "version 99" in r.stderr,
           "a file from another version is refused", r.stderr)
        with open(os.path.join(d, "tollgate.status"), "wb") as f:
            f.write(b"not a status file at all" * 10000)
        r = tollctl("--run-dir", d)
        ok(r.returncode == 1 and "not a tollgate status file" in r.stderr, "nor a foreign one", r.stderr)
    r = tollctl("--bogus")
    ok(r.returncode == 1 and "usage: tollctl status" in r.stderr, "a bad option: usage, exit 1")
    r = tollctl("--help")
    ok(r.returncode == 0 and "--run-dir" in r.stdout and "--json" in r.stdout, "--help")


def main():
    mock = Mock()
    gw = Gateway(mock, tollgate_extra=BUDGETS)
    try:
        st, _, body = gw.post("/key/generate", {"team_id": "research", "max_budget": 20,
                                                "budget_duration": "1d"})
        key = json.loads(body)["key"] if st == 200 else None
        ok(key is not None, "a virtual key of team research", body)
        processes(gw, status(gw))
        load(gw, key)
        secrets(gw, key)
        reload(gw)
        not_running(gw)
    finally:
        gw.stop()
        mock.stop()
        gw.cleanup()
    dead_and_foreign()
    done()


main()

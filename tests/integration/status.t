#!/usr/bin/python3
"""tollctl status against a real gateway (two workers, budgets) and the mock
provider: the workers and the accountant it shows are the master's children;
requests held open upstream show as in flight (and reserved on the budgets)
and go back to 0; after priced requests each budget's spent equals the
ledger's cost for its scope; a reload with a changed config raises the
generation, the new workers serve and an old one that still has a request
shows as draining, then goes; no secret is printed; copies of the live files,
damaged (a window no config gives, a time zone without its end, garbage
counters), never crash it; a second gateway on the same run directory is
refused; a stopped gateway, a dead one and a file from another version are
refused with exit 1."""
import json
import os
import random
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


def damaged(gw):
    """tollctl status on copies of the live files, damaged: never a crash, whatever they hold.
    Slots are found by their counter's id; after the id (120 bytes) come has_window,
    the window's unit and length, its start and end, spent, reserved and the limit."""
    with open(os.path.join(gw.run_dir, "tollgate.status"), "rb") as f:
        st_bytes = f.read()
    with open(os.path.join(gw.run_dir, "tollgate.budgets"), "rb") as f:
        bu_bytes = f.read()
    ids = [bu_bytes.find(i) for i in (b"*|1d\0", b"t|research|1mo\0")]
    tz = st_bytes.find(b"UTC\0", 0, 512)
    if min(ids) < 0 or tz < 0:
        ok(False, "the live files hold the global and team counters and the time zone", (ids, tz))
        return

    def run(what, st, bu):
        with tempfile.TemporaryDirectory() as d:
            for name, data in (("tollgate.status", st), ("tollgate.budgets", bu)):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            outs = [tollctl("--run-dir", d), tollctl("--run-dir", d, "--json")]
        good = all(r.returncode in (0, 1) for r in outs)
        if good and outs[1].returncode == 0:
            try:
                json.loads(outs[1].stdout)
            except ValueError:
                good = False
        return ok(good, "tollctl status on %s: no crash, a valid answer" % what,
                  [(r.returncode, r.stderr[-300:]) for r in outs])

    bu = bytearray(bu_bytes)
    at = ids[0]
    struct.pack_into("<iiiiqqq", bu, at + 120, 1, 0, 0, 0, 1 << 62, 0, 0)
    bu[at:at + 120] = b"*|4611686018427387904s".ljust(120, b"\0")
    run("a window of 2^62 seconds (its nanoseconds wrap to 0)", st_bytes, bytes(bu))
    st = bytearray(st_bytes)
    st[tz:tz + 64] = b"A" * 64
    run("a time zone without its NUL", bytes(st), bu_bytes)
    rnd = random.Random(7)
    for round in range(20):
        bu = bytearray(bu_bytes)
        for at in ids:
            for off in range(120, 184, 8):
                if rnd.random() < 0.5:
                    bu[at + off:at + off + 8] = rnd.choice(
                        [struct.pack("<q", v) for v in (0, 1, -1, 2 ** 63 - 1, -2 ** 63, 1 << 62)] +
                        [bytes(rnd.getrandbits(8) for _ in range(8))])
        if not run("garbage counters (round %d)" % round, st_bytes, bytes(bu)):
            break


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
        with open(gw.config) as f:
            text = f.read().replace("  port: %d\n" % gw.port, "  port: 0\n")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "tollgate.yaml"), "w") as f:
                f.write(text)
            with open(os.path.join(d, "prices.yaml"), "w") as f, open(os.path.join(gw.dir, "prices.yaml")) as p:
                f.write(p.read())
            try:
                r = subprocess.run([os.path.join(BUILD, "tollgated"), "-f", "-c", os.path.join(d, "tollgate.yaml"),
                                    "--ledger", os.path.join(d, "ledger"), "--run-dir", gw.run_dir],
                                   capture_output=True, text=True, timeout=20)
                ok(r.returncode != 0 and "another tollgated runs with run_dir '%s'" % gw.run_dir in r.stderr,
                   "a gateway on another port but this one's run directory is refused, saying why",
                   (r.returncode, r.stderr[-500:]))
            except subprocess.TimeoutExpired:
                ok(False, "a gateway on another port but this one's run directory is refused (it ran)")
        r = tollctl("--run-dir", gw.run_dir, "--json")
        ok(r.returncode == 0 and json.loads(r.stdout)["master"]["pid"] == gw.proc.pid,
           "and the first is still the one shown", (r.returncode, r.stderr))
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
        damaged(gw)
        reload(gw)
        not_running(gw)
    finally:
        gw.stop()
        mock.stop()
        gw.cleanup()
    dead_and_foreign()
    done()


main()

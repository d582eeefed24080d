#!/usr/bin/python3
"""The fleet ledger in PostgreSQL, against a private server started here: every
record a gateway commits reaches tollgate_spend, exactly once, with the same cost
as in the local ledger; LiteLLM's LiteLLM_SpendLogs view and the day aggregates
read it; PostgreSQL stopped under load loses nothing (requests are served
meanwhile, /health/readiness says it is down) and, restarted, holds exactly the
ledger's records; a shipper killed with SIGKILL mid-load duplicates nothing; three
gateways sharing one database give exactly the union of their ledgers;
general_settings.database_url is read; a DSN that does not parse is a file:line
error at -t; wrong credentials are a clear log line. Skips without Debian's
postgresql."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, check_config, Gateway, Mock, Postgres, done, eq, ok, skip, wait_until  # noqa: E402

if Postgres.skip_reason():
    skip(Postgres.skip_reason())


def fleet(dsn, host):
    return "  host_id: %s\n  postgres:\n    dsn: \"%s\"\n" % (host, dsn)


def send(gw, n, model="demo"):
    """n requests; the ids of those answered 200."""
    ids = []
    for i in range(n):
        st, h, _ = gw.post("/v1/chat/completions", {"model": model, "messages": [
            {"role": "user", "content": "hi %d" % i}], "mock": {"prompt_tokens": 100 + i, "completion_tokens": 7}})
        if st == 200:
            ids.append(h.get("x-tollgate-request-id"))
    return ids


def pg_rows(pg, host=None):
    where = " WHERE host_id = '%s'" % host if host else ""
    return {r[0]: Decimal(r[1]) for r in pg.psql("SELECT request_id, spend FROM tollgate_spend" + where)}


def ledger_rows(gw):
    return {r["id"]: Decimal(r["cost_usd"]) for r in gw.records(100000)}


def shipped(gw, pg, host):
    """Waits until PostgreSQL has every record of gw's ledger; whether it does."""
    return wait_until(lambda: set(pg_rows(pg, host)) == set(ledger_rows(gw)), 30, 0.3)


def readiness(gw):
    st, _, data = gw.request("GET", "/health/readiness")
    return json.loads(data) if data.startswith(b"{") else {}


def test_one(mock, pg):
    gw = Gateway(mock, tollgate_extra=fleet(pg.dsn, "host-a"))
    try:
        ids = send(gw, 29) + send(gw, 5, "priced")
        odd = "tab\there back\\slash\nnew line, é, \u2603"
        st, h, _ = gw.post("/v1/chat/completions", {"model": "demo", "user": odd, "messages": [
            {"role": "user", "content": "hi"}]})
        ids.append(h.get("x-tollgate-request-id") if st == 200 else None)
        ok(len([i for i in ids if i]) == 35, "35 requests served", len(ids))
        ok(shipped(gw, pg, "host-a"), "every record of the ledger reached tollgate_spend")
        mine, theirs = ledger_rows(gw), pg_rows(pg, "host-a")
        eq(theirs, mine, "  the same request ids, each with the ledger's exact cost")
        eq(pg.psql("SELECT count(*), count(DISTINCT request_id) FROM tollgate_spend"), [["35", "35"]],
           "  once each")
        got = pg.psql("SELECT encode(convert_to(customer, 'UTF8'), 'hex') FROM tollgate_spend "
                      "WHERE request_id = '%s'" % ids[-1])
        eq(bytes.fromhex(got[0][0]).decode() if got else None, odd,
           "  a customer (the body's user) with a tab, a backslash, a newline and non-ASCII arrives as sent")
        total = sum(mine.values())
        eq(Decimal(pg.psql("SELECT sum(spend) FROM \"LiteLLM_SpendLogs\"")[0][0]).quantize(Decimal("1e-9")),
           total.quantize(Decimal("1e-9")), "LiteLLM_SpendLogs reads the same spend under LiteLLM's names")
        rows = pg.psql("SELECT \"startTime\" <= \"endTime\", model, api_key <> '' FROM \"LiteLLM_SpendLogs\" LIMIT 1")
        ok(rows and rows[0][0] == "t" and rows[0][1] in ("demo", "priced"), "  with its columns", rows)
        day = pg.psql("SELECT sum(requests), sum(spend) FROM tollgate_spend_daily WHERE host_id = 'host-a'")
        ok(day and day[0][0] == "35" and Decimal(day[0][1]) == total,
           "tollgate_spend_daily: the day aggregates agree with the rows", (day, total))
        eq(pg.psql("SELECT version FROM tollgate_schema ORDER BY version"), [["1"], ["2"]],
           "the schema is versioned, each migration recorded (1, 2)")
        r = readiness(gw)
        ok(r.get("postgres") == "ok" and r.get("postgres_behind") == 0, "/health/readiness: postgres ok", r)
        st, _, metrics = gw.request("GET", "/metrics")
        ok(b'tollgate_info{host_id="host-a",version=' in metrics, "/metrics names the host (tollgate_info)")

        # PostgreSQL stopped under load: served meanwhile, nothing lost, nothing twice
        pg.stop()
        more = send(gw, 20)
        ok(len(more) == 20, "with PostgreSQL down, requests are served (the ledger is local)", len(more))
        ok(wait_until(lambda: readiness(gw).get("postgres") == "down", 15, 0.3),
           "  and /health/readiness says postgres is down", readiness(gw))
        pg.start()
        ok(shipped(gw, pg, "host-a"), "restarted: PostgreSQL holds exactly the ledger's records")
        eq(pg.psql("SELECT count(*), count(DISTINCT request_id) FROM tollgate_spend"), [["55", "55"]],
           "  55 rows, no duplicates")

        # the shipper killed outright, again and again, while records arrive
        stop = threading.Event()
        served = []
        t = threading.Thread(target=lambda: [served.extend(send(gw, 5)) for _ in iter(stop.is_set, True)])
        t.start()
        for _ in range(4):
            time.sleep(0.7)
            for pid in gw.children("shipper"):
                os.kill(pid, signal.SIGKILL)
        stop.set()
        t.join(60)
        ok(len(served) > 0 and shipped(gw, pg, "host-a"),
           "a shipper killed 4 times mid-load: every record shipped (%d more)" % len(served))
        n = len(ledger_rows(gw))
        eq(pg.psql("SELECT count(*), count(DISTINCT request_id) FROM tollgate_spend"), [[str(n), str(n)]],
           "  and none twice (%d)" % n)
        eq(pg_rows(pg, "host-a"), ledger_rows(gw), "  costs exact")
    finally:
        gw.stop()
        gw.cleanup()


def test_fleet(mock, pg):
    pg.psql("TRUNCATE tollgate_spend")
    a = Gateway(mock, tollgate_extra=fleet(pg.dsn, "fleet-a"))
    # LiteLLM's own setting, as a LiteLLM config says it
    b = Gateway(mock, extra="", tollgate_extra="  host_id: fleet-b\n")
    c = Gateway(mock, tollgate_extra=fleet(pg.dsn, "fleet-c"))
    try:
        with open(b.config) as f:
            text = f.read()
        with open(b.config, "w") as f:
            f.write(text.replace("general_settings:\n", "general_settings:\n  database_url: \"%s\"\n" % pg.dsn, 1))
        b.proc.send_signal(signal.SIGHUP)
        ok(wait_until(lambda: len(b.children("shipper")) == 1, 15), "general_settings.database_url: a shipper starts")
        results = {}
        threads = [threading.Thread(target=lambda g=g, k=k: results.__setitem__(k, send(g, 25)))
                   for k, g in (("a", a), ("b", b), ("c", c))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        ok(all(len(results.get(k, [])) == 25 for k in "abc"), "three gateways, 25 requests each, at once")
        for host, g in (("fleet-a", a), ("fleet-b", b), ("fleet-c", c)):
            ok(shipped(g, pg, host), "%s: its ledger's records, exactly" % host)
        union = {}
        for g in (a, b, c):
            union.update(ledger_rows(g))
        eq(pg_rows(pg), union, "PostgreSQL holds exactly the union of the three ledgers, costs exact")
        eq(pg.psql("SELECT count(DISTINCT host_id) FROM tollgate_spend"), [["3"]], "  each row naming its host")

        # tollctl spend --fleet: the three hosts' totals, as each host's own tollctl spend gives them
        def spend(*args):
            out = subprocess.run([os.path.join(BUILD, "tollctl"), "spend", "--format", "json"] + list(args),
                                 capture_output=True, text=True, timeout=60)
            return out.returncode, [json.loads(l, parse_float=Decimal) for l in out.stdout.splitlines()], out.stderr
        rc, fl, err = spend("--fleet", "--dsn", pg.dsn, "--by", "model")
        local = {}
        for g in (a, b, c):
            wait_until(lambda g=g: spend("--ledger", g.ledger)[1][0].get("requests") == len(ledger_rows(g)), 15)
            for line in spend("--ledger", g.ledger, "--by", "model")[1]:
                k = (line["model"], line["deployment"], line["priced_as"])
                local[k] = local.get(k, Decimal(0)) + Decimal(line["cost_usd"])
        ok(rc == 0 and {(l["model"], l["deployment"], l["priced_as"]): Decimal(l["cost_usd"]) for l in fl} == local,
           "tollctl spend --fleet --by model: the sum of the three hosts' own totals, exactly", (rc, err, fl, local))
        rc, tot, err = spend("--fleet", "--dsn", pg.dsn)
        ok(rc == 0 and tot and tot[0].get("requests") == len(union) and
           Decimal(tot[0]["cost_usd"]) == sum(union.values()), "  and its grand total: every request of the fleet",
           (rc, err, tot))

        # a virtual key made on one host works on the others; revoked on a third, on none
        st, _, data = a.post("/key/generate", {"key_alias": "fleet-key", "max_budget": 5})
        key = json.loads(data).get("key") if st == 200 else None
        ok(key is not None, "a virtual key made on fleet-a", (st, data[:200]))

        def works(g):
            return g.post("/v1/chat/completions", {"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
                          key=key)[0] == 200
        ok(wait_until(lambda: works(b) and works(c), 10, 0.2), "  works on fleet-b and fleet-c within seconds")
        eq(pg.psql("SELECT count(*) FROM tollgate_keys WHERE position('%s' in encode(value, 'escape')) > 0"
                   % key), [["0"]], "  the fleet's copy holds its hash, never its secret")
        st, _, data = c.post("/key/delete", {"keys": [key]})
        ok(st == 200, "revoked on fleet-c", (st, data[:200]))
        ok(wait_until(lambda: not works(a) and not works(b), 10, 0.2),
           "  refused on fleet-a and fleet-b within seconds")
    finally:
        for g in (a, b, c):
            g.stop()
            g.cleanup()


def test_bad_input(mock, pg):
    g = Gateway(mock)
    try:
        bad, out = check_config(g, "  postgres:\n    dsn: \"host=x nonsense\"\n")
        ok(out.returncode != 0 and "%s:" % bad in out.stderr and "postgres.dsn" in out.stderr,
           "a DSN that does not parse: a file:line error at -t", out.stderr[-400:])
    finally:
        g.stop()
        g.cleanup()
    wrong = pg.dsn.replace(Postgres.PASSWORD, "not-the-password")
    g = Gateway(mock, tollgate_extra=fleet(wrong, "host-w"))
    try:
        ok(wait_until(lambda: "password authentication failed" in g.logtext(), 15),
           "wrong credentials: a clear log line", g.logtext()[-600:])
        ok("not-the-password" not in g.logtext(), "  which does not quote the password")
        ok(wait_until(lambda: readiness(g).get("postgres") == "down", 10), "  /health/readiness: postgres down",
           readiness(g))
        ok(len(send(g, 3)) == 3, "  and requests are served")
    finally:
        g.stop()
        g.cleanup()


def main():
    mock = Mock()
    pg = Postgres()
    try:
        test_one(mock, pg)
        test_fleet(mock, pg)
        test_bad_input(mock, pg)
    finally:
        pg.stop()
        mock.stop()
    done()


main()

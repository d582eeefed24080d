#!/usr/bin/python3
"""A fleet: three gateways on loopback sharing one Redis and one PostgreSQL,
both private servers started here. Virtual keys made on the first host are used
on all three (through PostgreSQL); 64 clients spread over the three hosts spend
against a key's $1.00 budget, a team budget and a global budget declared in the
config, and an rpm limit, and a model whose two deployments carry an rpm each:
the fleet never spends past any of them (the three
ledgers summed), each refusal is a 429 naming the limit, Redis's counters hold
exactly what the ledgers spent with nothing left reserved, and PostgreSQL holds
exactly the union of the three ledgers. Skips without Debian's redis-server or
postgresql."""
import json
import os
import subprocess
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, Postgres, Redis, done, eq, ok, skip, wait_until  # noqa: E402
from tg import storm as tg_storm  # noqa: E402

if Redis.skip_reason() or Postgres.skip_reason():
    skip(Redis.skip_reason() or Postgres.skip_reason())

# each request: 100 tokens in, 5,000 out at gpt-4o-mini's 1.5e-7 / 6e-7, and max_tokens 5,000, so
# that admission's reservation (the body's length in input tokens and max_tokens) covers it
COST = 100 * Decimal("1.5e-7") + 5000 * Decimal("6e-7")
KEY_BUDGET, TEAM_BUDGET, GLOBAL_BUDGET, RPM = Decimal("1.00"), Decimal("1.50"), Decimal("2.20"), 30
DEPLOYMENT_RPM = 8	# each of the two deployments of model "limited" (litellm_params.rpm)
CLIENTS = 64


def config(host, redis, pg):
    return ("  host_id: %s\n  redis:\n    url: \"%s\"\n  postgres:\n    dsn: \"%s\"\n"
            "  budgets:\n"
            "    - {scope: team, name: fleet-team, max_budget: %s, budget_duration: 1d}\n"
            "    - {scope: global, max_budget: %s, budget_duration: 1d}\n"
            % (host, redis.url, pg.dsn, TEAM_BUDGET, GLOBAL_BUDGET))


def limited(mock):
    """Model "limited": two deployments with an rpm each, the same on every host."""
    return "".join("  - model_name: limited\n    litellm_params: {model: openai/gpt-4o-mini, "
                   "api_base: \"http://127.0.0.1:%d/v1\", api_key: %s, rpm: %d}\n"
                   % (mock.port, k, DEPLOYMENT_RPM) for k in ("k1", "k2"))


def ask(gw, key, model="demo"):
    st, _, data = gw.post("/v1/chat/completions", {"model": model, "max_tokens": 5000, "messages": [
        {"role": "user", "content": "hi"}], "mock": {"prompt_tokens": 100, "completion_tokens": 5000}},
        key=key)
    return st, data


def storm(gws, key, per_client):
    """CLIENTS threads spread over gws, per_client requests each: (status, body) of every one."""
    return tg_storm(gws, CLIENTS, per_client, lambda g: ask(g, key))


def generate(gw, **body):
    """The key's secret, and the name its records carry ("key:" and its hash's first 16)."""
    st, _, data = gw.post("/key/generate", body)
    j = json.loads(data) if st == 200 else {}
    return j.get("key"), "key:" + j.get("token", "")[:16]


def records(gws):
    return [r for g in gws for r in g.records(100000)]


def spend(recs, pick=lambda r: True):
    return sum((Decimal(r["cost_usd"]) for r in recs if pick(r)), Decimal(0))


def counter(redis, pattern):
    """The (spent, reserved) of the one Redis counter matching pattern, as integers."""
    keys = redis.cli("KEYS", pattern).split()
    if len(keys) != 1:
        return None
    h = redis.cli("HGETALL", keys[0]).split()
    h = dict(zip(h[::2], h[1::2]))
    return int(h.get("s", 0)), int(h.get("r", 0))


def main():
    mock, redis, pg = Mock(), Redis(), None
    gws = []
    try:
        pg = Postgres()
        gws = [Gateway(mock, limited(mock), tollgate_extra=config("host-%d" % i, redis, pg))
               for i in (1, 2, 3)]
        first = gws[0]

        # keys made on the first host, each used on all three
        made = {name: generate(first, key_alias=name, **body) for name, body in (
            ("rpm", {"max_budget": 10, "rpm_limit": RPM}),
            ("one-dollar", {"max_budget": float(KEY_BUDGET), "team_id": "fleet-team"}),
            ("team-mate", {"max_budget": 10, "team_id": "fleet-team"}),
            ("no-team", {"max_budget": 10}),
            ("revoked", {"max_budget": 10}))}
        keys = {name: secret for name, (secret, _) in made.items()}
        named = {name: ident for name, (_, ident) in made.items()}
        ok(all(keys.values()), "five virtual keys made on host-1", keys)
        ok(wait_until(lambda: all(ask(g, keys[k])[0] == 200 for g in gws[1:] for k in ("rpm", "revoked")),
                      15, 0.3), "  a key made on host-1 works on host-2 and host-3 (through PostgreSQL)")

        # revoked on host-3 while PostgreSQL is away: the word goes through Redis alone
        pg.stop()
        st, _, data = gws[2].post("/key/delete", {"keys": [keys["revoked"]]})
        ok(st == 200, "PostgreSQL stopped, a key revoked on host-3", (st, data[:200]))
        ok(wait_until(lambda: all(ask(g, keys["revoked"])[0] == 401 for g in gws[:2]), 10, 0.2),
           "  refused on host-1 and host-2 (through Redis)", [ask(g, keys["revoked"])[1][:120] for g in gws[:2]])
        st, data = ask(gws[0], keys["revoked"])
        ok(b"key_revoked" in data, "  with a 401 saying it is revoked", data[:200])
        pg.start()

        # an rpm of 30 across the fleet: counted in calendar minutes, so started early in one
        wait_until(lambda: time.gmtime().tm_sec < 20, 40, 0.5)
        minute = time.strftime("%Y-%m-%dT%H:%M", time.gmtime())
        before = len([r for r in records(gws) if r["key"] == named["rpm"] and r["start"].startswith(minute)])
        res = storm(gws, keys["rpm"], 1)
        served = sum(1 for st, _ in res if st == 200)
        refused = [d for st, d in res if st == 429]
        ok(served + before <= RPM and served > 0 and all(b"rpm" in d for d in refused) and
           len(refused) == CLIENTS - served,
           "the key's rpm of %d holds fleet-wide: %d of %d served in the minute (after %d), the rest 429 "
           "naming it" % (RPM, served, CLIENTS, before), (minute, sorted(set(st for st, _ in res))))

        # the deployments' own rpm, shared by the fleet too: two deployments of 8 a minute
        # serve 16 in the minute, whichever host they reach; the rest 429 with Retry-After
        before = len([r for r in records(gws) if r["model_requested"] == "limited" and
                      r["start"].startswith(minute)])
        res = tg_storm(gws, CLIENTS, 1, lambda g: (lambda st, h, d: (st, h.get("retry-after"), d))(
            *g.post("/v1/chat/completions", {"model": "limited", "messages": [
                {"role": "user", "content": "hi"}]}, key=keys["no-team"])))
        now = time.strftime("%Y-%m-%dT%H:%M", time.gmtime())
        served = sum(1 for st, _, _ in res if st == 200)
        refused = [(ra, d) for st, ra, d in res if st == 429]
        in_minute = len([r for r in records(gws) if r["model_requested"] == "limited" and
                         r["start"].startswith(minute)])
        # (a storm that crossed into the next minute may serve more there, never in this one)
        ok(in_minute <= 2 * DEPLOYMENT_RPM and (now != minute or in_minute == 2 * DEPLOYMENT_RPM) and
           len(refused) == CLIENTS - served and all(ra and b"rpm or tpm" in d for ra, d in refused),
           "deployments' rpm of %d each hold fleet-wide: %d of %d served in the minute (after %d), "
           "the rest 429 with Retry-After" % (DEPLOYMENT_RPM, served, CLIENTS, before),
           (minute, now, in_minute, sorted(set(st for st, _, _ in res)), refused[:1]))

        # the key's $1.00, the team's, then the global budget, each spent to its end by 64 clients,
        # with PostgreSQL stopped for a minute meanwhile
        pg.stop()
        stopped_at = time.time()
        for name, limit, what, words in (("one-dollar", KEY_BUDGET, "the key's", b"key budget"),
                                         ("team-mate", TEAM_BUDGET, "the team's", b"team"),
                                         ("no-team", GLOBAL_BUDGET, "the global", b"gateway budget")):
            per = int((limit / COST) / CLIENTS) + 3
            res = storm(gws, keys[name], per)
            recs = records(gws)
            if name == "one-dollar":
                total = spend(recs, lambda r: r["key"] == named["one-dollar"])
            elif name == "team-mate":
                total = spend(recs, lambda r: r["team"] == "fleet-team")
            else:
                total = spend(recs)
            refused = [d for st, d in res if st == 429]
            ok(limit - CLIENTS * COST <= total <= limit,
               "%s budget of $%s: the three ledgers spent $%s, never past it, nearly all of it"
               % (what, limit, total), (total, sorted(set(st for st, _ in res))))
            ok(refused and all(words in d for d in refused) and
               sorted(set(st for st, _ in res)) == [200, 429],
               "  the rest refused with a 429 naming %s budget (%d of %d)" % (what, len(refused), len(res)),
               refused[:1])

        time.sleep(max(0.0, 60 - (time.time() - stopped_at)))
        day = time.strftime("%Y-%m-%d", time.gmtime())
        st, _, data = gws[0].request("GET", "/spend/totals?group_by=team&fleet=true&start_date=%s&end_date=%s"
                                     % (day, day))
        ok(st == 503 and b"fleet ledger" in data, "the spend API's fleet=true with PostgreSQL down: a 503 "
           "saying why", (st, data[:300]))
        pg.start()

        # Redis's counters: what the ledgers spent, exactly, and nothing left reserved
        recs = records(gws)
        want = {
            "tollgate:c:[*]|1d:*": spend(recs),
            "tollgate:c:t|fleet-team|1d:*": spend(recs, lambda r: r["team"] == "fleet-team"),
        }
        for pattern, total in want.items():
            ok(wait_until(lambda: counter(redis, pattern) == (int(total * 10 ** 12), 0), 10, 0.3),
               "Redis's counter %s holds the ledgers' $%s, nothing reserved" % (pattern, total),
               (counter(redis, pattern), redis.cli("KEYS", "tollgate:c:*")))

        # PostgreSQL: the union of the three ledgers, once each
        union = {r["id"]: Decimal(r["cost_usd"]) for r in recs}

        def pg_rows():
            return {r[0]: Decimal(r[1]) for r in pg.psql("SELECT request_id, spend FROM tollgate_spend")}
        ok(wait_until(lambda: pg_rows() == union, 60, 0.5),
           "stopped for a minute under load and restarted, PostgreSQL holds exactly the union of the "
           "three ledgers (%d records, $%s)" % (len(union), sum(union.values())))
        eq(pg.psql("SELECT count(*) - count(DISTINCT request_id) FROM tollgate_spend"), [["0"]],
           "  none twice")
        eq(pg.psql("SELECT count(DISTINCT host_id) FROM tollgate_spend"), [["3"]], "  from the three hosts")
        # its day aggregates and each host's own agree
        daily = {h: (int(n), int(p)) for h, n, p in pg.psql(
            "SELECT host_id, sum(requests), sum(spend_pico) FROM tollgate_spend_daily GROUP BY 1")}

        def local(g):
            out = subprocess.run([os.path.join(BUILD, "tollctl"), "spend", "--format", "json", "--ledger", g.ledger],
                                 capture_output=True, text=True, timeout=60).stdout
            t = json.loads(out.splitlines()[0], parse_float=Decimal) if out.strip() else {}
            return int(t.get("requests", 0)), int(Decimal(str(t.get("cost_usd", 0))) * 10 ** 12)
        ok(wait_until(lambda: all(local(g) == daily.get("host-%d" % i) for i, g in enumerate(gws, 1)), 30, 0.5),
           "  tollgate_spend_daily per host equals each host's own aggregates (tollctl spend)",
           (daily, [local(g) for g in gws]))
        # the spend API, ?fleet=true: the fleet's totals, in the shape of a host's own
        day = time.strftime("%Y-%m-%d", time.gmtime())
        window = "start_date=%s&end_date=%s" % (day, day)

        def api(g, path):
            st, _, data = g.request("GET", path)
            return st, json.loads(data, parse_float=Decimal) if data[:1] in (b"[", b"{") else data
        for path, name in (("/spend/totals?group_by=team&" + window, "group"),
                           ("/spend/totals?group_by=model&" + window, "group"),	# two queries
                           ("/global/spend/report?group_by=team&" + window, None)):
            summed = {}
            for g in gws:
                st, body = api(g, path)
                lines = body if name else [t for d in body for t in d.get("teams", [])]
                for line in lines:
                    k = line[name] if name else line.get("team_name", line.get("team"))
                    m = line["metrics"] if name else line
                    summed[k] = summed.get(k, Decimal(0)) + Decimal(str(m.get("spend", m.get("total_spend", 0))))
            st, body = api(gws[1], path + "&fleet=true")
            lines = body if name and st == 200 else [t for d in body for t in d.get("teams", [])] \
                if st == 200 else []
            got = {}
            for line in lines:
                k = line[name] if name else line.get("team_name", line.get("team"))
                m = line["metrics"] if name else line
                got[k] = got.get(k, Decimal(0)) + Decimal(str(m.get("spend", m.get("total_spend", 0))))
            ok(st == 200 and got == summed and got,
               "%s&fleet=true on host-2: the three hosts' own answers summed, from PostgreSQL"
               % path.split("&")[0], (st, got, summed))
        activity = "/team/daily/activity?" + window
        mine = sum((Decimal(str(api(g, activity)[1]["metadata"]["total_spend"])) for g in gws), Decimal(0))
        st, body = api(gws[0], activity + "&fleet=true")
        ok(st == 200 and Decimal(str(body["metadata"]["total_spend"])) == mine and
           len(body["results"]) == 1 and body["results"][0]["breakdown"]["entities"],
           "/team/daily/activity?fleet=true on host-1: the three hosts' total ($%s), with its breakdown"
           % mine, (st, str(body)[:300]))
        mine = sum((Decimal(str(d["spend"])) for g in gws for d in api(g, "/spend/logs?" + window)[1]),
                   Decimal(0))
        st, body = api(gws[2], "/spend/logs?fleet=true&" + window)
        ok(st == 200 and sum((Decimal(str(d["spend"])) for d in body), Decimal(0)) == mine and mine > 0,
           "/spend/logs?fleet=true day summary on host-3: the three hosts' own summed ($%s)" % mine,
           (st, body))
        st, body = api(gws[0], "/spend/logs?fleet=true&summarize=false&" + window)
        ok(st == 400, "  its single requests: a 400 (read from each host's own records)", (st, body))
        ok(all(r["host"] == "host-%d" % i for i, g in enumerate(gws, 1) for r in g.records(100000)),
           "each record names the host that served it (tollgate.host_id)")
        ok(all(b'tollgate_info{host_id="host-%d"' % i in g.request("GET", "/metrics")[2]
               for i, g in enumerate(gws, 1)), "  and so does each host's /metrics")
    finally:
        for g in gws:
            g.stop()
            g.cleanup()
        if pg is not None:
            pg.stop()
        redis.stop()
        mock.stop()
    done()


main()

#!/usr/bin/python3
"""Budgets and rate limits shared through Redis, against a private redis-server
started here: three gateways on one Redis, 48 clients across them against a
global budget and a deployment's rpm declared in the config: the fleet never
spends past the budget (the three ledgers summed), every refusal is a 429 saying
which, and the rpm holds fleet-wide; without Redis the same three gateways
together pass the budget (the control: the test can fail); Redis stopped:
on_failure closed refuses with a 503 naming Redis, on_failure open admits on
the host's own counters; restarted, Redis serves again and the settlements
made meanwhile reach it; a Redis that sleeps (DEBUG SLEEP) stalls no other
request of the worker; a URL that does not parse is a file:line error at -t.
Skips without Debian's redis-server."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import check_config, Gateway, Mock, Redis, done, eq, ok, skip, wait_until  # noqa: E402
from tg import storm as tg_storm  # noqa: E402

if Redis.skip_reason():
    skip(Redis.skip_reason())

BUDGET = Decimal("0.004")
# the mock's usage for each request: 100 in, 50 out at gpt-4o-mini's 1.5e-7 / 6e-7; admission
# reserves at most the body's length in input tokens (about 200) and max_tokens (50): never less
COST = 100 * Decimal("1.5e-7") + 50 * Decimal("6e-7")

EXTRA = """\
  - model_name: limited
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
      rpm: 30
"""


HOSTS = iter(range(1, 1000))


def shared(url, failure="closed", budget=BUDGET):
    # each gateway a host of its own (on one machine they would share the hostname)
    return ("  redis:\n    url: \"%s\"\n    on_failure: %s\n" % (url, failure) if url else "") + \
        "  host_id: host-%d\n" % next(HOSTS) + \
        "  budgets:\n    - {scope: global, max_budget: %s, budget_duration: 1d}\n" % budget


def ask(gw, model="demo"):
    st, h, data = gw.post("/v1/chat/completions", {"model": model, "max_tokens": 50, "messages": [
        {"role": "user", "content": "hi"}], "mock": {"prompt_tokens": 100, "completion_tokens": 50}})
    return st, data


def storm(gws, clients, per_client, model="demo"):
    """clients threads spread over gws, each sending per_client requests: the statuses and bodies."""
    return tg_storm(gws, clients, per_client, lambda g: ask(g, model))


def spent(gws):
    return sum((Decimal(r["cost_usd"]) for g in gws for r in g.records(100000)), Decimal(0))


def fleet(mock, url, failure="closed"):
    return [Gateway(mock, EXTRA, tollgate_extra=shared(url, failure)) for _ in range(3)]


def stop_all(gws):
    for g in gws:
        g.stop()
        g.cleanup()


def test_control(mock):
    gws = fleet(mock, None)
    try:
        storm(gws, 24, 12)
        total = spent(gws)
        ok(total > BUDGET, "control: three gateways with their own counters spend past a $%s budget "
           "together ($%s)" % (BUDGET, total))
    finally:
        stop_all(gws)


def test_shared(mock, redis):
    gws = fleet(mock, redis.url)
    try:
        ok(wait_until(lambda: ask(gws[0])[0] == 200, 10, 0.2), "a gateway admits through Redis")
        res = storm(gws, 48, 8)
        total = spent(gws)
        codes = sorted(set(st for st, _ in res))
        refused = [d for st, d in res if st == 429]
        ok(total <= BUDGET, "48 clients over three gateways: the fleet spent $%s of $%s, never past it"
           % (total, BUDGET))
        ok(total >= BUDGET - 3 * COST * 8, "  and nearly all of it (the budget is not left unused)", total)
        ok(codes == [200, 429] and refused and all(b"gateway budget exceeded" in d for d in refused),
           "  the rest refused with a 429 naming the gateway's (global) budget", codes)
        served = sum(1 for st, _ in res if st == 200) + 1
        keys = redis.cli("KEYS", "tollgate:c:[*]|1d:*").split()
        # (a worker's lease on it, unused for a second, goes back)
        ok(len(keys) == 1 and wait_until(lambda: Decimal(redis.cli("HGET", keys[0], "s")) == total * 10 ** 12
                                         and redis.cli("HGET", keys[0], "r") == "0", 5),
           "Redis's counter holds exactly what the three ledgers spent (%d requests), nothing left reserved"
           % served, (keys, keys and redis.cli("HGETALL", keys[0]), total))

        redis.cli("FLUSHALL")	# the budget spent: the rpm alone now
        # rpm counts calendar minutes: started early in one, so that the storm stays in it
        wait_until(lambda: time.gmtime().tm_sec < 30, 40, 0.5)
        res = storm(gws, 12, 5, "limited")
        got = sum(1 for st, _ in res if st == 200)
        ok(got <= 30 and any(st == 429 and b"rpm" in d for st, d in res),
           "a deployment's rpm of 30 holds fleet-wide: %d of 60 served in the minute" % got)
    finally:
        stop_all(gws)


def test_failure(mock, redis):
    redis.cli("FLUSHALL")
    closed = Gateway(mock, EXTRA, tollgate_extra=shared(redis.url, "closed"))
    opened = Gateway(mock, EXTRA, tollgate_extra=shared(redis.url, "open"))
    try:
        ok(wait_until(lambda: ask(closed)[0] == 200 and ask(opened)[0] == 200, 10, 0.2), "both admit")
        redis.stop()
        st, data = ask(closed)
        ok(st == 503 and b"Redis" in data, "Redis stopped, on_failure closed: 503 saying why", (st, data[:300]))
        st, data = ask(opened)
        ok(st == 200, "  on_failure open: admitted on the host's own counters", (st, data[:200]))
        redis.start()
        ok(wait_until(lambda: ask(closed)[0] == 200, 15, 0.3), "Redis back: served again")
        ok(wait_until(lambda: "re-seeded" in opened.logtext() and "re-seeded" in closed.logtext(), 15, 0.3),
           "Redis came back empty: each host re-seeds it from its own spend", opened.logtext()[-500:])
        keys = redis.cli("KEYS", "tollgate:c:[*]|1d:*").split()
        total = spent([closed, opened])
        ok(keys and wait_until(lambda: Decimal(redis.cli("HGET", keys[0], "s") or 0) == total * 10 ** 12, 10),
           "  the gateway budget's counter holds exactly the two hosts' spend, the open host's while "
           "Redis was away included ($%s)" % total, keys and redis.cli("HGETALL", keys[0]))
        # a request in flight while Redis restarts empty: its release never takes a counter below 0
        slow = threading.Thread(target=lambda: closed.post("/v1/chat/completions", {
            "model": "demo", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
            "mock": {"prompt_tokens": 100, "completion_tokens": 50, "latency_ms": 1500}}))
        slow.start()
        time.sleep(0.5)
        redis.stop()
        redis.start()
        slow.join(30)
        wait_until(lambda: ask(closed)[0] == 200, 15, 0.3)
        time.sleep(0.5)
        rs = [redis.cli("HGET", k, "r") for k in redis.cli("KEYS", "tollgate:c:*").split()]
        ok(rs and all(int(r or 0) >= 0 for r in rs), "a reservation released into a Redis restarted empty "
           "leaves no counter below 0", rs)
        # a sleeping Redis: the worker's other requests go on
        sleeper = subprocess.Popen(["redis-cli", "-p", str(redis.port), "DEBUG", "SLEEP", "3"],
                                   stdout=subprocess.DEVNULL)
        try:
            st, _, _ = closed.request("GET", "/health")
            st2, _, _ = closed.request("GET", "/v1/models")
            ok(st == 200 and st2 == 200 and sleeper.poll() is None,
               "Redis asleep (DEBUG SLEEP 3): /health and /v1/models answered meanwhile")
        finally:
            sleeper.wait(30)
    finally:
        closed.stop()
        closed.cleanup()
        opened.stop()
        opened.cleanup()


def test_bounds(mock, redis):
    """The overspend each mode allows, under load: part of the budget spent through Redis, then Redis
    gone: closed spends nothing more, open spends its host's share of what was left."""
    redis.cli("FLUSHALL")
    closed = Gateway(mock, EXTRA, tollgate_extra=shared(redis.url, "closed"))
    opened = Gateway(mock, EXTRA, tollgate_extra=shared(redis.url, "open"))
    try:
        wait_until(lambda: ask(closed)[0] == 200 and ask(opened)[0] == 200, 10, 0.2)
        storm([closed, opened], 8, 5)
        time.sleep(1.5)	# each worker reads back its counters every second
        before = spent([closed, opened])
        ok(before < BUDGET / 2, "two hosts spend part of the budget through Redis ($%s of $%s)" % (before, BUDGET))
        closed_before, opened_before = spent([closed]), spent([opened])
        redis.stop()
        res = storm([closed], 8, 5)
        eq(sorted(set(st for st, _ in res)), [503], "Redis gone under load, on_failure closed: every "
           "request with a budget refused")
        eq(spent([closed]), closed_before, "  the closed host spends nothing more")
        res = storm([opened], 8, 8)
        mine, after = spent([opened]) - opened_before, spent([closed, opened])
        share = (BUDGET - before) / 2
        ok(sorted(set(st for st, _ in res)) == [200, 429] and share - 2 * COST <= mine <= share,
           "on_failure open: the open host spends its share of what was left, (budget - used) / 2 hosts: "
           "$%s of $%s, then refuses" % (mine, share), sorted(set(st for st, _ in res)))
        ok(after <= BUDGET, "  so the fleet spends $%s of $%s, nothing past it" % (after, BUDGET))
    finally:
        redis.start()
        closed.stop()
        closed.cleanup()
        opened.stop()
        opened.cleanup()


def ended(r):
    """A record's end, unix seconds."""
    import calendar
    day, frac = r["end"].rstrip("Z").split(".")
    return calendar.timegm(time.strptime(day, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def test_killed_under_load(mock, redis, mode):
    """Redis killed outright (SIGKILL) while two hosts spend a budget, restarted empty two seconds
    later: the overspend measured against the bound stated for the mode."""
    redis.cli("FLUSHALL")
    budget = Decimal("0.02")
    gws = [Gateway(mock, EXTRA, tollgate_extra=shared(redis.url, mode, budget)) for _ in range(2)]
    try:
        wait_until(lambda: all(ask(g)[0] == 200 for g in gws), 10, 0.2)
        res = []
        load = threading.Thread(target=lambda: res.extend(storm(gws, 16, 40)))
        load.start()
        wait_until(lambda: spent(gws) >= budget / 3, 60, 0.1)
        killed_at = time.time()
        os.killpg(redis.proc.pid, signal.SIGKILL)
        redis.proc.wait(10)
        time.sleep(2)
        redis.start()
        load.join(300)
        recs = [r for g in gws for r in g.records(100000)]
        total = sum((Decimal(r["cost_usd"]) for r in recs), Decimal(0))
        codes = sorted(set(st for st, _ in res))
        if mode == "closed":
            ok(total <= budget and 503 in codes,
               "on_failure closed, Redis killed under load and restarted empty: the fleet spent $%s of $%s, "
               "nothing past it (503s while it was away)" % (total, budget), codes)
        else:
            # the bound: what the fleet spent in the second before (each worker reads its counters
            # back every second), and what the requests in flight then (16 clients) could add
            before = sum((Decimal(r["cost_usd"]) for r in recs if killed_at - 1.2 <= ended(r) <= killed_at),
                         Decimal(0))
            over = max(total - budget, Decimal(0))
            ok(over <= before + 16 * COST and 200 in codes,
               "on_failure open, Redis killed under load and restarted empty: $%s spent past $%s, within "
               "the bound (the fleet's spend in the second before: $%s, and 16 requests in flight)"
               % (over, budget, before), codes)
        ok(wait_until(lambda: ask(gws[0])[0] in (200, 429), 15, 0.3), "  and Redis serves the fleet again")
    finally:
        stop_all(gws)


def calls(redis, command):
    m = re.search(r"cmdstat_%s:calls=(\d+)" % command, redis.cli("INFO", "commandstats"))
    return int(m.group(1)) if m else 0


def test_leases(mock, redis):
    """Spent to its end through leases, the fleet still stops at the budget; a budget with room: each
    worker leases some of it and admits from the lease, asking Redis far less than once a request; a
    worker killed outright holding a lease has it given back by the host's others."""
    redis.cli("FLUSHALL")
    budget = Decimal("0.02")	# about 440 requests; leases while 16 of them leave room
    gws = [Gateway(mock, EXTRA, tollgate_extra=shared(redis.url, budget=budget)) for _ in range(3)]
    try:
        wait_until(lambda: ask(gws[0])[0] == 200, 10, 0.2)
        res = storm(gws, 48, 13)
        total = spent(gws)
        served = sum(1 for st, _ in res if st == 200) + 1
        ok(total <= budget and total >= budget - 48 * COST,
           "leased, then request by request: %d clients over three gateways spent $%s of $%s, never "
           "past it, nearly all of it" % (48, total, budget))
        keys = redis.cli("KEYS", "tollgate:c:[*]|1d:*").split()
        ok(len(keys) == 1 and wait_until(lambda: Decimal(redis.cli("HGET", keys[0], "s")) == total * 10 ** 12
                                         and redis.cli("HGET", keys[0], "r") == "0", 10),
           "  Redis's counter holds exactly the three ledgers' spend, and the leases went back",
           keys and redis.cli("HGETALL", keys[0]))
        ok(wait_until(lambda: not redis.cli("KEYS", "tollgate:lease:*").split(), 5),
           "  and no worker holds a lease any more", redis.cli("KEYS", "tollgate:lease:*"))
    finally:
        stop_all(gws)

    # room: leases; then a worker killed with its lease, and the others of its host give it back
    redis.cli("FLUSHALL")
    g = Gateway(mock, EXTRA, tollgate_extra=shared(redis.url, budget="1000"))
    try:
        wait_until(lambda: ask(g)[0] == 200, 10, 0.2)
        redis.cli("CONFIG", "RESETSTAT")
        served = sum(1 for st, _ in storm([g], 8, 25) if st == 200)
        # a reservation in Redis reads its counter at least twice (HMGET): one from a lease, never
        checks = calls(redis, "hmget")
        ok(served == 200 and checks < served / 2, "a budget of $1000: %d requests served, %d counter "
           "reads in Redis: most admitted from the workers' leases" % (served, checks))
        time.sleep(0.3)	# past the workers' last settlement (a tenth of a second apart), within a second
        leases = [k for k in redis.cli("KEYS", "tollgate:lease:*").split()
                  if int(redis.cli("HGET", k, redis.cli("HKEYS", k).split()[0]) or 0) > 0]
        ok(leases, "a budget of $1000: the workers hold leases on it", redis.cli("KEYS", "tollgate:*"))
        if leases:
            pid = int(leases[0].rsplit(":", 1)[1])
            held = int(redis.cli("HGET", leases[0], redis.cli("HKEYS", leases[0]).split()[0]))
            os.kill(pid, signal.SIGKILL)
            key = redis.cli("KEYS", "tollgate:c:[*]|1d:*").split()[0]
            ok(int(redis.cli("HGET", key, "r")) >= held, "  worker %d killed holding %d of it" % (pid, held))
            ok(wait_until(lambda: redis.cli("HGET", key, "r") == "0" and
                          not redis.cli("EXISTS", leases[0]) != "0", 30, 0.5) and
               "given back" in g.logtext(),
               "  its lease given back by the host's other workers (a log line says so)",
               (redis.cli("HGETALL", key), g.logtext()[-600:]))
            ok(Decimal(redis.cli("HGET", key, "s")) == spent([g]) * 10 ** 12,
               "  the counter's spend is the ledger's (what the worker settled before it was killed)",
               redis.cli("HGETALL", key))
    finally:
        g.stop()
        g.cleanup()


def test_lost_answer(mock, redis):
    """A reservation Redis made whose answer the worker never had (the connection went first): given
    back when the worker connects again."""
    redis.cli("FLUSHALL")
    g = Gateway(mock, EXTRA, tollgate_extra=shared(redis.url))
    try:
        wait_until(lambda: ask(g)[0] == 200, 10, 0.2)
        listed = redis.cli("KEYS", "tollgate:lessees:*").split()
        pids = redis.cli("SMEMBERS", listed[0]).split() if listed else []
        counter = redis.cli("KEYS", "tollgate:c:[*]|1d:*").split()
        ok(len(pids) == 2 and len(counter) == 1, "two workers listed, one counter", (listed, pids, counter))
        if len(pids) == 2 and len(counter) == 1:
            # what the reservation script does for a grant, with its answer lost
            lessee = "tollgate:lease:%s:%s" % (listed[0].split(":", 2)[2], pids[0])
            redis.cli("HINCRBY", lessee, counter[0], "777000000")
            redis.cli("HINCRBY", counter[0], "r", "777000000")
            redis.cli("CLIENT", "KILL", "TYPE", "normal")
            ok(wait_until(lambda: redis.cli("HGET", counter[0], "r") == "0" and
                          "did not know" in g.logtext(), 15, 0.3),
               "  the worker, connected again, gives it back (a log line says so)",
               (redis.cli("HGETALL", counter[0]), g.logtext()[-500:]))
            eq(ask(g)[0], 200, "  and serves on")
    finally:
        g.stop()
        g.cleanup()


def one_worker(g):
    with open(g.config) as f:
        text = f.read()
    with open(g.config, "w") as f:
        f.write(text.replace("  workers: 2\n", "  workers: 1\n"))


def test_retries(mock, redis):
    """A retry counts on the rpm of the deployment it goes to, fleet-wide too: rl's order-1
    deployment fails, each retry goes to order 2 (rpm 5); five retries over two hosts fill it
    in Redis, and then a host that has sent only three there takes no more."""
    redis.cli("FLUSHALL")
    failing = Mock("--status", "500")
    extra = ("  - model_name: rl\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
             "      api_base: http://127.0.0.1:%d/v1\n      api_key: k\n      order: 1\n"
             "      rpm: 1000\n"
             "  - model_name: rl\n    litellm_params:\n      <<: *mock\n      model: openai/gpt-4o-mini\n"
             "      order: 2\n      rpm: 5\n"
             "router_settings:\n  num_retries: 1\n  allowed_fails: 1000\n") % failing.port
    gws = [Gateway(mock, extra, tollgate_extra=shared(redis.url, budget="100"), prepare=one_worker)
           for _ in range(2)]
    try:
        wait_until(lambda: time.gmtime().tm_sec < 30, 40, 0.5)	# all in one calendar minute
        before = mock.get("/mock/stats")["requests"]
        codes = [ask(g, "rl")[0] for g in (gws[0], gws[0], gws[0], gws[1], gws[1])]
        eq((codes, mock.get("/mock/stats")["requests"] - before), ([200] * 5, 5),
           "five requests over two hosts, each retried on order 2")
        def order2():
            keys = redis.cli("KEYS", "tollgate:c:drpm|rl|1:*").split()
            return redis.cli("HGET", keys[0], "s") if len(keys) == 1 else keys
        ok(wait_until(lambda: order2() == "5", 5), "Redis's counter of order 2's rpm holds the five "
           "retries (each host settles them a tenth of a second later)", order2())
        time.sleep(2.5)	# each host reads the fleet's counters back every second
        codes = [ask(gws[0], "rl")[0] for _ in range(2)]
        eq(codes, [500, 500], "order 2 full fleet-wide: the first host (three of its five) retries no "
           "more there, the failure is the answer")
        eq(mock.get("/mock/stats")["requests"] - before, 5, "  and order 2 got nothing more")
    finally:
        stop_all(gws)
        failing.stop()


def test_credentials(mock):
    """A Redis with a password, and a gateway given the wrong one: said in the log and readiness."""
    locked = Redis(password="right-password")
    good = Gateway(mock, EXTRA, tollgate_extra=shared(locked.url))
    bad = Gateway(mock, EXTRA, tollgate_extra=shared(locked.url.replace("right-password", "wrong-one")))
    try:
        ok(wait_until(lambda: ask(good)[0] == 200, 10, 0.2) and b'"redis": "ok"' in
           good.request("GET", "/health/readiness")[2], "the right password: admitted, readiness says redis ok")
        ok(wait_until(lambda: "WRONGPASS" in bad.logtext() or "invalid password" in bad.logtext(), 10, 0.2),
           "the wrong one: a log line with Redis's own words", bad.logtext()[-400:])
        ok("wrong-one" not in bad.logtext(), "  which does not quote the password")
        st, _, data = bad.request("GET", "/health/readiness")
        ok(st == 200 and b'"redis": "down"' in data, "  /health/readiness: redis down", data)
        st, data = ask(bad)
        ok(st == 503 and b"Redis" in data, "  and requests with budgets get a 503 (on_failure closed)", (st, data[:200]))
    finally:
        for g in (good, bad):
            g.stop()
            g.cleanup()
        locked.stop()


def test_bad_url(mock):
    g = Gateway(mock)
    try:
        bad, out = check_config(g, "  redis:\n    url: \"redis://:pw@\"\n")
        ok(out.returncode != 0 and "%s:" % bad in out.stderr and "redis.url" in out.stderr and
           ":pw@" not in out.stderr, "a Redis URL that does not parse: a file:line error at -t, "
           "the password not repeated", out.stderr[-300:])
    finally:
        g.stop()
        g.cleanup()


def main():
    mock = Mock()
    redis = Redis()
    try:
        test_control(mock)
        test_shared(mock, redis)
        test_failure(mock, redis)
        test_bounds(mock, redis)
        test_leases(mock, redis)
        test_lost_answer(mock, redis)
        test_retries(mock, redis)
        test_killed_under_load(mock, redis, "closed")
        test_killed_under_load(mock, redis, "open")
        test_credentials(mock)
        test_bad_url(mock)
    finally:
        redis.stop()
        mock.stop()
    done()


main()

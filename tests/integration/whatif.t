#!/usr/bin/python3
"""tollctl whatif: a window's recorded usage priced again as another model or
tier, checked against a direct computation over tollctl export with the
target's rates written here: per key, at Anthropic's rates; at gpt-4o-mini's
batch tier (half of every rate); a target without an output price lists the
output instead of counting it free; an unknown target is an error.  The
spend API's GET /spend/whatif, which the dashboard reads, answers the same
questions over the same window with the same figures, to the picodollar."""
import json
import os
import datetime
import subprocess
import sys
import urllib.parse
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, done, eq, ok, wait_until  # noqa: E402

SONNET = {"input": Decimal("3e-6"), "cache_read": Decimal("3e-7"), "output": Decimal("1.5e-5")}
TOLLCTL = os.path.join(BUILD, "tollctl")


def tollctl(*args):
    return subprocess.run([TOLLCTL, *args], capture_output=True, text=True, timeout=60)


mock = Mock()
gw = None
try:
    def add_cheapo(g):
        # in the gateway's own price map too, for /spend/whatif
        with open(os.path.join(g.dir, "prices.yaml"), "a") as f:
            f.write("cheapo:\n  input_cost_per_token: 1e-7\n")

    gw = Gateway(mock, prepare=add_cheapo)
    keys = {}
    for alias in ("alpha", "beta"):
        st, _, data = gw.post("/key/generate", {"key_alias": alias})
        keys[alias] = json.loads(data)["key"]
    for alias, n, knobs in (("alpha", 3, {"prompt_tokens": 1000, "completion_tokens": 50, "cached_tokens": 200}),
                            ("beta", 2, {"prompt_tokens": 5000, "completion_tokens": 300})):
        for _ in range(n):
            st, _, _ = gw.post("/v1/chat/completions", {"model": "demo", "messages": [
                {"role": "user", "content": "hi"}], "mock": knobs}, key=keys[alias])
            eq(st, 200, "a request for key %s" % alias)
    prices = ["--prices", os.path.join(gw.dir, "prices.yaml")]
    ok(wait_until(lambda: len(gw.records()) >= 5, 10), "five records committed")
    out = tollctl("export", "--ledger", gw.ledger, "--since", "1h", "--until", "2099-01-01", "--format", "jsonl")
    recs = [json.loads(x, parse_float=Decimal) for x in out.stdout.splitlines() if x.strip()]
    eq(len(recs), 5, "tollctl export: the five records")
    want = {}
    for r in recs:
        t = r["tokens"]
        cost = sum((t[k] * rate for k, rate in SONNET.items()), Decimal(0))
        w = want.setdefault(r["key"], [0, Decimal(0), Decimal(0)])
        w[0] += 1
        w[1] += Decimal(str(r["cost_usd"]))
        w[2] += cost

    res = tollctl("whatif", "--ledger", gw.ledger, "--since", "1h", "--as", "claude-sonnet-4-5", "--by", "key",
                  "--format", "json", *prices)
    got = json.loads(res.stdout, parse_float=Decimal) if res.returncode == 0 else res.stderr
    eq(({g["group"]: [g["requests"], g["recorded_usd"], g["as_usd"]] for g in got} if isinstance(got, list)
        else got), want, "whatif --as claude-sonnet-4-5 --by key: per key, as computed from the export")
    ok(isinstance(got, list) and all(g["difference_usd"] == g["as_usd"] - g["recorded_usd"] and
                                     g["not_priced"] == {} for g in got),
       "  the difference, and nothing left unpriced", got)

    res = tollctl("whatif", "--ledger", gw.ledger, "--since", "1h", "--as", "gpt-4o-mini", "--tier", "batch",
                  "--format", "json", *prices)
    got = json.loads(res.stdout, parse_float=Decimal) if res.returncode == 0 else []
    eq([(g["group"], g["requests"], g["as_usd"] * 2 == g["recorded_usd"]) for g in got],
       [("gpt-4o-mini", 5, True)], "--tier batch on the same model: half of every rate, half the cost")

    res = tollctl("whatif", "--ledger", gw.ledger, "--since", "1h", "--as", "cheapo", "--format", "json", *prices)
    got = json.loads(res.stdout, parse_float=Decimal) if res.returncode == 0 else []
    out_tokens = sum(r["tokens"]["output"] for r in recs)
    ok(len(got) == 1 and got[0]["not_priced"] == {"output": out_tokens} and
       got[0]["as_usd"] == sum(Decimal(r["tokens"]["input"] + r["tokens"]["cache_read"]) * Decimal("1e-7")
                               for r in recs),
       "a target without an output price: the output listed (%d tokens), never counted free" % out_tokens, got)
    res = tollctl("whatif", "--ledger", gw.ledger, "--since", "1h", "--format", "table", *prices,
                  "--as", "cheapo")
    ok(res.returncode == 0 and "output %d" % out_tokens in res.stdout, "  and in the table", res.stdout)

    res = tollctl("whatif", "--ledger", gw.ledger, "--since", "1h", "--as", "no-such-model", *prices)
    ok(res.returncode == 1 and "no-such-model" in res.stderr and "not in the price map" in res.stderr,
       "an unknown target: exit 1 naming it", (res.returncode, res.stderr))
    res = tollctl("whatif", "--ledger", gw.ledger, "--as", "cheapo", *prices)
    ok(res.returncode == 1 and "--since" in res.stderr, "no --since: exit 1 saying so", res.stderr)

    from_export = want
    # the spend API over the UTC day the records are in, against tollctl over the same window
    today = datetime.datetime.now(datetime.timezone.utc).date()
    window = ["--since", today.isoformat(), "--until", (today + datetime.timedelta(days=1)).isoformat()]

    def api(**params):
        params.setdefault("start_date", today.isoformat())
        params.setdefault("end_date", today.isoformat())
        st, _, data = gw.request("GET", "/spend/whatif?" + urllib.parse.urlencode(params))
        return st, json.loads(data, parse_float=Decimal) if data else None

    def figures(groups):
        return {g["group"]: (g["requests"], g["recorded_usd"], g["as_usd"], g["difference_usd"], g["not_priced"])
                for g in groups}

    for what, cli, params in (
            ("as claude-sonnet-4-5 by key", ["--as", "claude-sonnet-4-5", "--by", "key"],
             {"as": "claude-sonnet-4-5", "group_by": "key"}),
            ("as gpt-4o-mini at the batch tier", ["--as", "gpt-4o-mini", "--tier", "batch"],
             {"as": "gpt-4o-mini", "tier": "batch"}),
            ("as cheapo, which prices no output", ["--as", "cheapo"], {"as": "cheapo"}),
            ("as claude-sonnet-4-5 for model demo's records by team",
             ["--as", "claude-sonnet-4-5", "--model", "demo", "--by", "team"],
             {"as": "claude-sonnet-4-5", "model": "demo", "group_by": "team"})):
        res = tollctl("whatif", "--ledger", gw.ledger, *window, "--format", "json", *prices, *cli)
        want = figures(json.loads(res.stdout, parse_float=Decimal)) if res.returncode == 0 else res.stderr
        st, got = api(**params)
        ok(st == 200 and isinstance(want, dict) and want and figures(got["groups"]) == want,
           "/spend/whatif %s: tollctl whatif's figures exactly" % what, (st, got, want))
    st, got = api(**{"as": "claude-sonnet-4-5", "group_by": "key"})
    ok(st == 200 and got["as"] == "claude-sonnet-4-5" and got["group_by"] == "key" and got["tier"] is None and
       sorted(g["key_alias"] for g in got["groups"]) == ["alpha", "beta"] and
       all(g["group"].startswith("key:") for g in got["groups"]),
       "  it names the target, the grouping, no tier, and each key by its id and alias", got)
    eq({k: list(v[:3]) for k, v in figures(got["groups"]).items()}, from_export,
       "  per key, the requests, recorded cost and cost as the target computed from the export")
    st, got = api(**{"as": "no-such-model"})
    ok(st == 400 and got["error"]["param"] == "as" and "no-such-model" in got["error"]["message"],
       "/spend/whatif at an unknown target: 400 naming it", got)
    st, got = api(**{"as": "cheapo", "tier": "cheap"})
    ok(st == 400 and got["error"]["param"] == "tier", "an unknown tier: 400 on tier", got)
    st, got = api(**{"start_date": today.isoformat()})
    ok(st == 400 and got["error"]["param"] in ("end_date", "as"), "a window without an end or no target: 400", got)
    st, _, _ = gw.request("GET", "/spend/whatif?start_date=%s&end_date=%s&as=cheapo" % (today, today),
                          key=keys["alpha"])
    eq(st, 403, "/spend/whatif takes the master key only")
finally:
    if gw is not None:
        gw.stop()
    mock.stop()
done()

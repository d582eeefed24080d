#!/usr/bin/python3
"""tollctl whatif: a window's recorded usage priced again as another model or
tier, checked against a direct computation over tollctl export with the
target's rates written here: per key, at Anthropic's rates; at gpt-4o-mini's
batch tier (half of every rate); a target without an output price lists the
output instead of counting it free; an unknown target is an error."""
import json
import os
import subprocess
import sys
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
    gw = Gateway(mock)
    with open(os.path.join(gw.dir, "cheapo.yaml"), "w") as f:
        f.write("cheapo:\n  input_cost_per_token: 1e-7\n")
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
    prices = ["--prices", os.path.join(gw.dir, "prices.yaml"), "--prices", os.path.join(gw.dir, "cheapo.yaml")]
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
finally:
    if gw is not None:
        gw.stop()
    mock.stop()
done()

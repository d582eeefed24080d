#!/usr/bin/python3
"""The spend API (/spend/logs, /global/spend/report, /user|team|tag/daily/activity,
/key/info for a virtual key) after a scripted load with cache tokens, tags,
users, teams and customers: every field checked against the ledger (tollctl
logs --json, the raw records, and tollctl spend --json, the aggregates), the
authentication, and the 400s that name the bad parameter.  And /ui: the
dashboard page, its files and the Chart.js path."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, SRC, USER_KEY, Gateway, Mock, done, eq, ok, teardown, wait_until  # noqa: E402

TODAY = time.strftime("%Y-%m-%d", time.gmtime())
WINDOW = "start_date=%s&end_date=%s" % (TODAY, TODAY)
CATEGORIES_IN = ("input", "cache_read", "cache_write_5m", "cache_write_1h", "audio_input",
                 "image_input", "tool_use_prompt")
CATEGORIES_OUT = ("output", "reasoning", "audio_output", "image_output")


def get(gw, path, key=None):
    kw = {} if key is None else {"key": key}
    st, h, body = gw.request("GET", path, **kw)
    try:
        # costs are exact decimals in the JSON: read them as Decimal, never float
        return st, h, json.loads(body, parse_float=Decimal)
    except ValueError:
        return st, h, body


def spend(gw, *args):
    out = subprocess.run([os.path.join(BUILD, "tollctl"), "spend", "--ledger", gw.ledger,
                          "--format", "json"] + list(args), capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("tollctl spend failed: " + out.stderr)
    return [json.loads(l, parse_float=Decimal) for l in out.stdout.splitlines() if l.strip()]


def dec(x):
    return Decimal(str(x))


def sums(records):
    """LiteLLM's metrics of a set of ledger records, computed here from the raw records."""
    m = {"spend": Decimal(0), "prompt_tokens": 0, "completion_tokens": 0,
         "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, "api_requests": 0,
         "failed_requests": 0}
    for r in records:
        t = r["tokens"]
        m["spend"] += dec(r["cost_usd"])
        m["prompt_tokens"] += sum(int(t[c]) for c in CATEGORIES_IN)
        m["completion_tokens"] += sum(int(t[c]) for c in CATEGORIES_OUT)
        m["cache_read_input_tokens"] += int(t["cache_read"])
        m["cache_creation_input_tokens"] += int(t["cache_write_5m"]) + int(t["cache_write_1h"])
        m["api_requests"] += 1
        m["failed_requests"] += 1 if r["status"] >= 400 or "upstream_failed" in r["flags"] else 0
    m["successful_requests"] = m["api_requests"] - m["failed_requests"]
    m["total_tokens"] = m["prompt_tokens"] + m["completion_tokens"]
    return m


def same_metrics(got, want, what):
    diffs = [(k, got.get(k), v) for k, v in want.items()
             if (dec(got.get(k)) if k == "spend" else got.get(k)) != v]
    ok(not diffs, what, diffs)


def load(gw):
    """Two virtual keys (teams red and blue), the master key, tags, customers, cache tokens."""
    keys = {}
    for alias, team, user in (("bot-red", "red", "ann"), ("bot-blue", "blue", "bob")):
        st, h, body = gw.post("/key/generate", {"key_alias": alias, "team_id": team, "user_id": user,
                                                "max_budget": 50, "budget_duration": "1d"})
        keys[alias] = json.loads(body)["key"]
    chat = "/v1/chat/completions"
    for i in range(3):
        gw.post(chat, {"model": "demo", "messages": [], "user": "cust-%d" % (i % 2),
                       "metadata": {"tags": ["batch", "nightly"]},
                       "mock": {"cached_tokens": 300 + i}}, key=keys["bot-red"])
    gw.post(chat, {"model": "demo", "messages": [], "metadata": {"tags": ["batch"]},
                   "mock": {"prompt_tokens": 2000, "completion_tokens": 70}}, key=keys["bot-blue"])
    gw.post("/v1/messages", {"model": "claude", "max_tokens": 10, "messages": [],
                             "mock": {"cache_write_tokens": 200, "cached_tokens": 100}},
            key=keys["bot-blue"])
    gw.post("/v1/messages", {"model": "claude", "max_tokens": 10, "messages": [],
                             "metadata": {"tags": ["interactive"]},
                             "mock": {"cache_write_1h_tokens": 50}})
    gw.post(chat, {"model": "priced", "messages": []}, key=USER_KEY)
    gw.post(chat, {"model": "dead", "messages": []})
    return keys


def check_auth(gw, keys):
    for path in ("/spend/logs", "/global/spend/report?" + WINDOW, "/user/daily/activity?" + WINDOW,
                 "/team/daily/activity?" + WINDOW, "/tag/daily/activity?" + WINDOW,
                 "/spend/totals?group_by=key&" + WINDOW, "/budget/list",
                 "/spend/whatif?as=gpt-4o-mini&" + WINDOW, "/spend/provider_cost?" + WINDOW):
        st, h, body = gw.request("GET", path, key=None)
        eq(st, 401, "%s without a key: 401" % path)
        st, h, body = gw.request("GET", path, key="sk-not-the-master-key")
        eq(st, 403, "%s with a wrong key: 403" % path)
        st, h, body = gw.request("GET", path, key=keys["bot-red"])
        eq(st, 403, "%s with a virtual key: 403" % path)
        st, h, body = gw.request("GET", path, key=USER_KEY)
        eq(st, 403, "%s with a key of tollgate.keys: 403" % path)
        st, h, body = gw.request("POST", path, body={})
        eq(st, 405, "POST %s: 405" % path)


def check_errors(gw):
    cases = [
        ("/global/spend/report?end_date=" + TODAY, "start_date"),
        ("/global/spend/report?start_date=%s" % TODAY, "end_date"),
        ("/global/spend/report?start_date=2026-02-30&end_date=" + TODAY, "start_date"),
        ("/global/spend/report?start_date=yesterday&end_date=" + TODAY, "start_date"),
        ("/global/spend/report?start_date=%s&end_date=2020-01-01" % TODAY, "end_date"),
        ("/global/spend/report?%s&group_by=planet" % WINDOW, "group_by"),
        ("/team/daily/activity?%s&page=0" % WINDOW, "page"),
        ("/team/daily/activity?%s&page_size=5000" % WINDOW, "page_size"),
        ("/team/daily/activity?%s&page=x" % WINDOW, "page"),
        ("/user/daily/activity?%s&api_key=key:1" % WINDOW, "api_key"),
        ("/tag/daily/activity?start_date=2026-1-1&end_date=" + TODAY, "start_date"),
        ("/spend/logs?summarize=maybe", "summarize"),
        ("/spend/logs?limit=0", "limit"),
        ("/spend/logs?start_date=01/02/2026", "start_date"),
        # dates whose nanoseconds overflow an int64_t were read as other dates
        ("/global/spend/report?start_date=2300-01-01&end_date=2300-01-02", "start_date"),
        ("/global/spend/report?start_date=0000-01-01&end_date=0001-01-01", "start_date"),
        ("/global/spend/report?start_date=%s&end_date=9999-12-31" % TODAY, "end_date"),
        ("/spend/logs?end_date=1969-12-31", "end_date"),
        # a NUL, a repeated parameter, a cut or signed number were read as something else
        ("/user/daily/activity?start_date=%s%%00x&end_date=%s" % (TODAY, TODAY), "start_date"),
        ("/team/daily/activity?%s&page_size=1&page_size=5000" % WINDOW, "page_size"),
        ("/team/daily/activity?%s&page_size=%%2B5" % WINDOW, "page_size"),
        ("/team/daily/activity?%s&page=%%205" % WINDOW, "page"),
        ("/spend/logs?limit=" + "0" * 70 + "1", "limit"),
        ("/spend/logs?limit=99999999999999999999999", "limit"),
        ("/spend/logs?api_key=key:1&api_key=key:2", "api_key"),
        ("/spend/totals?%s&group_by=model%%00x" % WINDOW, "group_by"),
        ("/team/daily/activity?%s&team_ids=,," % WINDOW, "team_ids"),
        ("/global/spend/report?%s&group_by=team&group_by=tag" % WINDOW, "group_by"),
        ("/global/spend/report?start_date=%s&start_date=2020-01-01&end_date=%s" % (TODAY, TODAY),
         "start_date"),
        ("/spend/whatif?" + WINDOW, "as"),
        ("/spend/whatif?as=gpt-4o-mini&end_date=" + TODAY, "start_date"),
        ("/spend/whatif?%s&as=gpt-4o-mini&group_by=tag" % WINDOW, "group_by"),
        ("/spend/whatif?%s&as=gpt-4o-mini&as=claude" % WINDOW, "as"),
        ("/spend/whatif?%s&as=gpt-4o-mini&fleet=true" % WINDOW, "fleet"),
        ("/spend/provider_cost?start_date=" + TODAY, "end_date"),
    ]
    for path, param in cases:
        st, h, body = get(gw, path)
        err = body.get("error", {}) if isinstance(body, dict) else {}
        ok(st == 400 and err.get("param") == param and param in err.get("message", "")
           and err.get("type") == "invalid_request_error",
           "%s: 400 naming %s" % (path, param), (st, body))


def check_activity(gw, records):
    # the whole window, no filter: the day's metrics are the ledger's, every field
    st, h, body = get(gw, "/team/daily/activity?" + WINDOW)
    eq(st, 200, "/team/daily/activity: 200")
    eq(h.get("content-type"), "application/json", "as JSON")
    days = body["results"]
    eq([d["date"] for d in days], [TODAY], "one day of results, today's")
    want = sums(records)
    same_metrics(days[0]["metrics"], want, "the day's metrics equal the raw records' sums")
    same_metrics({"spend": body["metadata"]["total_spend"]}, {"spend": want["spend"]},
                 "metadata.total_spend equals the ledger's")
    for k in ("prompt_tokens", "completion_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens", "api_requests", "successful_requests",
              "failed_requests"):
        eq(body["metadata"]["total_" + k], want[k], "metadata.total_%s" % k)
    ok(want["cache_read_input_tokens"] > 0 and want["cache_creation_input_tokens"] > 0,
       "the load has cache read and cache write tokens", want)
    eq((body["metadata"]["page"], body["metadata"]["total_pages"], body["metadata"]["has_more"]),
       (1, 1, False), "one page")
    bd = days[0]["breakdown"]
    by_model = {}
    for r in records:
        by_model.setdefault(r["model_requested"], []).append(r)
    eq(sorted(bd["models"]), sorted(by_model), "breakdown.models names every model_name of the ledger")
    for m, rs in by_model.items():
        same_metrics(bd["models"].get(m, {}).get("metrics", {}), sums(rs), "breakdown.models[%s]" % m)
    by_prov = {}
    for r in records:
        by_prov.setdefault(r["provider"], []).append(r)
    for p, rs in by_prov.items():
        same_metrics(bd["providers"].get(p, {}).get("metrics", {}), sums(rs), "breakdown.providers[%s]" % p)
    by_key = {}
    for r in records:
        by_key.setdefault(r["key"], []).append(r)
    for k, rs in by_key.items():
        same_metrics(bd["api_keys"].get(k, {}).get("metrics", {}), sums(rs), "breakdown.api_keys[%s]" % k)
    aliases = sorted(v["metadata"]["key_alias"] for v in bd["api_keys"].values()
                     if v["metadata"]["key_alias"])
    eq(aliases, ["bot-blue", "bot-red"], "api_keys metadata names the aliases")
    teams = {}
    for r in records:
        teams.setdefault(r["team"], []).append(r)
    eq(sorted(bd["entities"]), sorted(teams), "entities: one per team (and '' for none)")
    for t, rs in teams.items():
        same_metrics(bd["entities"][t]["metrics"], sums(rs), "entities[%s]" % t)
    # a cost per category, adding up to spend
    cost = days[0]["metrics"]["cost"]
    eq(sum(dec(v) for v in cost.values()), dec(days[0]["metrics"]["spend"]),
       "the cost categories add up to spend")

    # one team asked for
    st, h, body = get(gw, "/team/daily/activity?%s&team_ids=red" % WINDOW)
    same_metrics(body["results"][0]["metrics"], sums(teams["red"]), "team_ids=red: red's metrics")
    eq(list(body["results"][0]["breakdown"]["entities"]), ["red"], "team_ids=red: red alone")
    st, h, body = get(gw, "/team/daily/activity?%s&team_ids=red,blue" % WINDOW)
    same_metrics(body["results"][0]["metrics"], sums(teams["red"] + teams["blue"]),
                 "team_ids=red,blue: both teams' metrics")

    # users
    st, h, body = get(gw, "/user/daily/activity?%s&user_id=ann" % WINDOW)
    eq(st, 200, "/user/daily/activity: 200")
    same_metrics(body["results"][0]["metrics"], sums([r for r in records if r["user"] == "ann"]),
                 "user_id=ann: ann's metrics")

    # tags: each tag's line is exact; a request with two tags is in both
    st, h, body = get(gw, "/tag/daily/activity?" + WINDOW)
    ents = body["results"][0]["breakdown"]["entities"]
    for tag in ("batch", "nightly", "interactive"):
        same_metrics(ents.get(tag, {}).get("metrics", {}),
                     sums([r for r in records if tag in r["tags"].split(",")]), "tag %s" % tag)
    same_metrics(body["results"][0]["metrics"], sums(records),
                 "/tag/daily/activity: the day's total counts each request once")
    st, h, body = get(gw, "/tag/daily/activity?%s&tags=nightly" % WINDOW)
    same_metrics(body["results"][0]["metrics"],
                 sums([r for r in records if "nightly" in r["tags"].split(",")]), "tags=nightly")

    # paging and an empty window
    st, h, body = get(gw, "/team/daily/activity?%s&page=2&page_size=1" % WINDOW)
    eq((body["results"], body["metadata"]["page"], body["metadata"]["total_pages"]), ([], 2, 1),
       "page 2 of 1: no results")
    st, h, body = get(gw, "/team/daily/activity?start_date=2020-01-01&end_date=2020-01-31")
    eq((st, body["results"], body["metadata"]["total_spend"]), (200, [], 0), "an empty month")


def check_report(gw, records, keys):
    for group, field, lst, dim in (("team", "team_name", "teams", "team"),
                                   ("customer", "customer", "customers", "customer"),
                                   ("tag", "tag", "tags", "tag")):
        st, h, body = get(gw, "/global/spend/report?%s&group_by=%s" % (WINDOW, group))
        eq(st, 200, "group_by=%s: 200" % group)
        eq(len(body), 1, "group_by=%s: one day" % group)
        eq(body[0]["group_by_day"], TODAY + "T00:00:00+00:00", "group_by_day")
        want = {r[dim if dim != "tag" else "tag"] or "": dec(r["cost_usd"])
                for r in spend(gw, "--by", dim, "--since", TODAY)}
        got = {e[field]: dec(e["total_spend"]) for e in body[0][lst]}
        eq(got, want, "group_by=%s: total_spend equals tollctl spend --by %s" % (group, dim))
        ok(all(e["metadata"] == [] for e in body[0][lst]), "group_by=%s: metadata is a list" % group)
        spends = [dec(e["total_spend"]) for e in body[0][lst]]
        eq(spends, sorted(spends, reverse=True), "group_by=%s: dearest first" % group)
    st, h, body = get(gw, "/global/spend/report?" + WINDOW)
    eq([list(d) for d in body], [["group_by_day", "teams"]], "group_by defaults to team")
    for group, dim in (("api_key", "key"), ("model", "model")):
        st, h, body = get(gw, "/global/spend/report?%s&group_by=%s" % (WINDOW, group))
        eq(st, 200, "group_by=%s: 200" % group)
        rows = {r[dim]: r for r in spend(gw, "--by", dim, "--since", TODAY)}
        eq(sorted(e[group] for e in body), sorted(rows), "group_by=%s: every %s" % (group, dim))
        for e in body:
            r = rows.get(e[group], {})
            ok(dec(e["total_cost"]) == dec(r.get("cost_usd", -1)) and
               e["metrics"]["cache_read_input_tokens"] == r.get("cache_read") and
               e["metrics"]["cache_creation_input_tokens"] == r.get("cache_write") and
               e["metrics"]["api_requests"] == r.get("requests") and
               e["metrics"]["failed_requests"] == r.get("errors"),
               "group_by=%s %s: cost and tokens equal tollctl spend" % (group, e[group]), (e, r))
    st, h, body = get(gw, "/global/spend/report?%s&group_by=api_key" % WINDOW)
    ok({e.get("key_alias") for e in body} >= {"bot-red", "bot-blue"}, "group_by=api_key names aliases")
    raw = gw.request("GET", "/global/spend/report?%s&group_by=api_key" % WINDOW)[2].decode()
    ok(not any(k in raw for k in keys.values()), "no secret in the report")


def check_logs(gw, records, keys):
    rec = next(r for r in records if r["tokens"]["cache_write_1h"])
    st, h, body = get(gw, "/spend/logs?request_id=" + rec["id"])
    eq((st, len(body)), (200, 1), "/spend/logs?request_id=: the one record")
    row = body[0]
    t = rec["tokens"]
    eq((row["request_id"], row["api_key"], dec(row["spend"]), row["model"], row["model_group"],
        row["custom_llm_provider"], row["request_tags"], row["status"]),
       (rec["id"], rec["key"], dec(rec["cost_usd"]), rec["deployment"], rec["model_requested"],
        rec["provider"], rec["tags"].split(",") if rec["tags"] else [], "success"),
       "its fields are the record's")
    eq((row["prompt_tokens"], row["completion_tokens"], row["cache_creation_input_tokens"]),
       (sum(int(t[c]) for c in CATEGORIES_IN), sum(int(t[c]) for c in CATEGORIES_OUT),
        int(t["cache_write_5m"]) + int(t["cache_write_1h"])), "its token counts are the record's")
    eq(row["metadata"]["id"], rec["id"], "metadata is the whole record")
    ok(row["startTime"].startswith(rec["start"][:23]), "startTime is the record's start",
       (row["startTime"], rec["start"]))

    red = [r for r in records if r["key"] != "master" and r["team"] == "red"]
    st, h, body = get(gw, "/spend/logs?summarize=false&api_key=" + keys["bot-red"])
    eq(sorted(r["request_id"] for r in body), sorted(r["id"] for r in red),
       "api_key= (the secret) finds that key's records")
    st, h, body = get(gw, "/spend/logs?api_key=" + red[0]["key"])
    eq(len(body), len(red), "api_key= (the key's id) too")
    st, h, body = get(gw, "/spend/logs?user_id=bob")
    eq(sorted(r["request_id"] for r in body), sorted(r["id"] for r in records if r["user"] == "bob"),
       "user_id= finds that user's records")
    st, h, body = get(gw, "/spend/logs?limit=2")
    eq([r["request_id"] for r in body], [r["id"] for r in records[:2]], "limit=2: the newest two")
    st, h, body = get(gw, "/spend/logs?%s&summarize=false&limit=1000" % WINDOW)
    eq(len(body), len(records), "summarize=false with dates: every record of the window")

    st, h, body = get(gw, "/spend/logs?" + WINDOW)
    eq((st, len(body)), (200, 1), "/spend/logs with dates: one summary per day")
    day = body[0]
    eq(day["startTime"], TODAY, "startTime is the day")
    eq(dec(day["spend"]), sums(records)["spend"], "its spend equals the ledger's")
    users = {}
    for r in records:
        users[r["user"]] = users.get(r["user"], Decimal(0)) + dec(r["cost_usd"])
    eq({k: dec(v) for k, v in day["users"].items()}, users, "its users' spend equals the ledger's")
    bykey = {}
    for r in records:
        bykey[r["key"]] = bykey.get(r["key"], Decimal(0)) + dec(r["cost_usd"])
    eq({k: dec(v) for k, v in day["api_keys"].items()}, bykey, "its keys' spend equals the ledger's")
    ok(all(dec(day.get(k, -1)) == v for k, v in bykey.items()), "each key's spend at the top level too")


def check_key_info(gw, records, keys):
    st, h, body = get(gw, "/key/info", key=keys["bot-red"])
    eq(st, 200, "/key/info with a virtual key: 200")
    info = body.get("info", {})
    red = [r for r in records if r["user"] == "ann"]
    eq(dec(info.get("spend")), sum(dec(r["cost_usd"]) for r in red), "its own spend, from the ledger")
    eq((dec(info.get("max_budget")), info.get("budget_duration")), (Decimal(50), "1d"), "its budget")
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    eq(info.get("budget_reset_at"), tomorrow + "T00:00:00Z", "budget_reset_at: next UTC midnight")
    st, h, body = get(gw, "/key/info?key=" + info["token"], key=keys["bot-red"])
    eq(st, 200, "?key= naming itself: 200")
    st, h, body = get(gw, "/key/info?key=bot-blue", key=keys["bot-red"])
    eq(st, 403, "another key's info: 403")
    st, h, body = get(gw, "/key/info?key=bot-blue")
    eq((st, body.get("info", {}).get("key_alias")), (200, "bot-blue"), "the master key sees any key")


def check_totals(gw, records):
    for dim in ("key", "user", "team", "customer", "tag", "model", "provider"):
        st, h, body = get(gw, "/spend/totals?%s&group_by=%s" % (WINDOW, dim))
        eq(st, 200, "/spend/totals?group_by=%s: 200" % dim)
        rows = {r[dim]: r for r in spend(gw, "--by", dim, "--since", TODAY)}
        got = {e["group"]: e["metrics"] for e in body}
        eq(sorted(got), sorted(rows), "group_by=%s: the groups of tollctl spend --by %s" % (dim, dim))
        bad = [g for g, m in got.items()
               if dec(m["spend"]) != rows[g]["cost_usd"] or m["api_requests"] != rows[g]["requests"]
               or m["input_tokens"] != rows[g]["input"] or m["output_tokens"] != rows[g]["output"]
               or m["cache_read_input_tokens"] != rows[g]["cache_read"]
               or m["cache_creation_input_tokens"] != rows[g]["cache_write"]
               or any(dec(m["cost"].get(c, 0)) != rows[g]["cost_%s_usd" % c]
                      for c in ("input", "cache_read", "cache_write", "output"))]
        eq(bad, [], "group_by=%s: tokens and costs per category equal tollctl spend's" % dim)
    st, h, body = get(gw, "/spend/totals?%s&group_by=planet" % WINDOW)
    eq((st, body["error"]["param"]), (400, "group_by"), "/spend/totals?group_by=planet: 400")


def check_budgets(gw, records):
    st, h, body = get(gw, "/budget/list")
    eq(st, 200, "/budget/list: 200")
    b = {(x["scope"], x["name"]): x for x in body["budgets"]}
    red = b.get(("team", "red"), {})
    eq((dec(red.get("max_budget", -1)), red.get("budget_duration")), (Decimal(5), "1d"),
       "the team budget's limit and window")
    eq(dec(red.get("spend", -1)), sum(dec(r["cost_usd"]) for r in records if r["team"] == "red"),
       "its spend is the team's spend in the ledger")
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    eq(red.get("budget_reset_at"), tomorrow + "T00:00:00Z", "its next reset")
    glob = b.get(("global", None), {})
    eq((glob.get("budget_duration"), glob.get("budget_reset_at")), (None, None),
       "a budget without a window never resets")


def check_ui(gw, chartjs):
    src = os.path.join(SRC, "contrib", "ui")
    st, h, body = gw.request("GET", "/ui", key=None)
    eq((st, h.get("content-type")), (200, "text/html; charset=utf-8"), "/ui: the page, without a key")
    with open(os.path.join(src, "index.html"), "rb") as f:
        eq(body, f.read(), "/ui is contrib/ui/index.html")
    ok(b'src="/ui/chart.js"' in body and b'src="/ui/app.js"' in body, "it loads chart.js and app.js")
    csp = h.get("content-security-policy", "")
    ok("script-src 'self'" in csp and "frame-ancestors 'none'" in csp, "a content security policy", csp)
    for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css")):
        st, h, body = gw.request("GET", "/ui/" + name, key=None)
        with open(os.path.join(src, name), "rb") as f:
            ok(st == 200 and h.get("content-type", "").startswith(ctype) and body == f.read(),
               "/ui/%s: the file, as %s" % (name, ctype), st)
    st, h, body = gw.request("GET", "/ui/chart.js", key=None)
    with open(chartjs, "rb") as f:
        eq((st, body), (200, f.read()), "/ui/chart.js is the file tollgate.ui_chartjs names")
    for path in ("/ui/../tollgate.yaml", "/ui/tollgate.yaml", "/ui/chart.js/x"):
        eq(gw.request("GET", path, key=None)[0], 404, "%s: 404" % path)
    eq(gw.request("POST", "/ui", body="", key=None)[0], 405, "POST /ui: 405")
    st, h, body = get(gw, "/spend/logs?limit=1000")
    log = gw.logtext()
    ok("sk-" not in log, "no secret in tollgated's log")


def check_ui_files(mock):
    """Files of ui_dir that are no regular files: a 404 each, and the worker still answers."""
    scratch = tempfile.mkdtemp(prefix="tollgate-ui-odd-")
    src = os.path.join(SRC, "contrib", "ui")
    os.symlink(os.path.join(src, "index.html"), os.path.join(scratch, "index.html"))
    os.mkdir(os.path.join(scratch, "app.js"))
    os.mkfifo(os.path.join(scratch, "style.css"))
    os.mkfifo(os.path.join(scratch, "chart.js"))
    gw = Gateway(mock, tollgate_extra="  ui_dir: %s\n  ui_chartjs: %s\n" %
                 (scratch, os.path.join(scratch, "chart.js")))
    try:
        st, h, body = gw.request("GET", "/ui", key=None)
        with open(os.path.join(src, "index.html"), "rb") as f:
            eq((st, body), (200, f.read()), "a symlinked index.html is served")
        # a FIFO used to block the worker in open(2) until a writer came: no answer at all
        for path, what in (("/ui/app.js", "a directory"), ("/ui/style.css", "a FIFO"),
                           ("/ui/chart.js", "a FIFO as tollgate.ui_chartjs")):
            try:
                st = gw.request("GET", path, key=None, timeout=5)[0]
            except OSError as e:
                st = repr(e)
            eq(st, 404, "%s is %s: 404" % (path, what))
        eq(gw.request("GET", "/health", key=None, timeout=5)[0], 200, "the workers still answer")
    finally:
        gw.stop()
        gw.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)


def check_rows_max():
    """A window of more aggregate rows than a worker keeps (100,000) is a 400, not gigabytes."""
    def fill(gw):
        # 200,000 records over ten years: some 50 of ledgergen's 1,000 customers a day
        subprocess.run([os.path.join(BUILD, "ledgergen"), gw.ledger, "200000", "3650"], check=True,
                       capture_output=True)
        subprocess.run([os.path.join(BUILD, "tollctl"), "aggregate", "--rebuild", "--ledger", gw.ledger],
                       check=True, capture_output=True)
    mock = Mock()
    gw = Gateway(mock, prepare=fill)
    try:
        end = time.strftime("%Y-%m-%d", time.gmtime())
        start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3649 * 86400))
        for path in ("/spend/totals?group_by=customer", "/global/spend/report?group_by=customer"):
            st, h, body = get(gw, "%s&start_date=%s&end_date=%s" % (path, start, end))
            err = body.get("error", {}) if isinstance(body, dict) else {}
            ok(st == 400 and err.get("param") == "start_date" and "fewer days" in err.get("message", ""),
               "%s over ten years: 400, ask for fewer days" % path, (st, str(body)[:200]))
        week = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 6 * 86400))
        st, h, body = get(gw, "/spend/totals?group_by=customer&start_date=%s&end_date=%s" % (week, end))
        ok(st == 200 and isinstance(body, list) and len(body) > 10, "a week of it: 200",
           (st, str(body)[:200]))
    finally:
        teardown(gw, mock)


def main():
    mock = Mock()
    scratch = tempfile.mkdtemp(prefix="tollgate-ui-")
    chartjs = os.path.join(scratch, "chart.min.js")
    with open(chartjs, "w") as f:
        f.write("/* a stand-in for Chart.js */ window.Chart = undefined;\n")
    src = os.path.join(SRC, "contrib", "ui")
    gw = Gateway(mock, tollgate_extra="  ui_dir: %s\n  ui_chartjs: %s\n  budgets:\n"
                 "    - {scope: team, name: red, max_budget: 5, budget_duration: 1d}\n"
                 "    - {scope: global, max_budget: 1000}\n" % (src, chartjs))
    try:
        keys = load(gw)

        def caught_up():
            recs = gw.records()
            return len(recs) == 8 and spend(gw)[0]["requests"] == len(recs)
        ok(wait_until(caught_up, 15), "the load is in the ledger and the aggregates")
        records = gw.records()
        check_auth(gw, keys)
        check_errors(gw)
        check_activity(gw, records)
        check_report(gw, records, keys)
        check_logs(gw, records, keys)
        check_key_info(gw, records, keys)
        check_totals(gw, records)
        check_budgets(gw, records)
        check_ui(gw, chartjs)
        check_ui_files(mock)
        check_rows_max()
    finally:
        teardown(gw, mock, scratch)
    done()


main()

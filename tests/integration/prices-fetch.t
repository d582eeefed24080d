#!/usr/bin/python3
"""tollctl prices diff and prices fetch (issue 19, section 5).

diff: two small handwritten maps, one YAML and one JSON, whose differences
are written out by hand below (added, removed, each changed rate with its
old and new value and relative change), in text and in JSON; a map against
itself or its own translation into the other format has no changes; a map
that does not load is an error naming the file.

fetch: a local HTTP server on 127.0.0.1 (a thread of this test, stopped in a
finally) serves the community map of ../shared/data (skipped when absent)
and maps made from it: a good one, one truncated, one cut short of its
Content-Length, an HTML page, an empty object, one that drops three of the
five models the configuration uses, one that puts a price in use up 100x,
and a 404; a port that refuses connections stands for an offline machine.
The exit codes and messages are checked, that the installed file is
replaced only by the good map (or with --force, or a looser limit), that a
refused map leaves it byte for byte as it was with no temporary file beside
it, and that the diff's figures are those computed here from the two JSON
texts with Python's decimals, not read back from tollctl."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from decimal import Decimal
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, SRC, dead_port, diag, done, eq, ok, skip, spawn  # noqa: E402

TOLLCTL = os.environ.get("TOLLCTL") or os.path.join(BUILD, "tollctl")
SHARED = os.path.join(SRC, "..", "shared", "data", "litellm_model_prices.json")
NAME = "litellm_model_prices.json"
# no proxy may stand between tollctl and the loopback server, and no URL from outside
ENV = {k: v for k, v in os.environ.items()
       if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
       and k != "TOLLGATE_PRICES_URL"}


def tollctl(*args, env=None):
    """(exit status, stdout, stderr) of one tollctl run, killed with the test."""
    p = spawn([TOLLCTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
              env=env or ENV)
    try:
        out, err = p.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return -1, out.decode(), err.decode() + "\n(timed out)"
    return p.returncode, out.decode(), err.decode()


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def decimals(text):
    return json.loads(text, parse_float=Decimal)


# ---- prices diff: handwritten maps and their expected differences ---------------

OLD_YAML = """\
alpha:
  input_cost_per_token: 3e-6
  output_cost_per_token: 1.5e-5
  cache_read_input_token_cost: 3e-7
  output_cost_per_token_priority: 3e-5
beta:
  input_cost_per_token: 1e-6
  output_cost_per_token: 2e-6
gone:
  input_cost_per_token: 1e-6
same:
  input_cost_per_token: 0.000001
  search_context_cost_per_query:
    search_context_size_low: 0.01
tiered:
  input_cost_per_token: 4e-6
  tiered_pricing:
    - range: [0, 200000]
      input_cost_per_token: 1e-6
"""

NEW_JSON = """\
{
  "alpha": {"input_cost_per_token": 0.0000033, "output_cost_per_token": 1.5e-5,
            "cache_creation_input_token_cost": 3.75e-6, "output_cost_per_token_priority": 2e-5,
            "input_cost_per_token_above_200k_tokens": 6e-6},
  "beta": {"input_cost_per_token": 1e-6, "output_cost_per_token": 0.000002000000000001,
           "input_cost_per_token_batches": 5e-7, "provider_specific_entry": {"us": 1.1}},
  "fresh": {"input_cost_per_token": 1e-7},
  "same": {"input_cost_per_token": 1e-6, "search_context_cost_per_query": {"search_context_size_low": 1e-2}},
  "tiered": {"input_cost_per_token": 4e-6,
             "tiered_pricing": [{"range": [0, 200000], "input_cost_per_token": 2e-6}]}
}
"""

# what changes from OLD_YAML to NEW_JSON, worked out by hand
DIFF_TEXT = """\
added: fresh
removed: gone
changed: alpha
  cache_creation_input_token_cost: none -> 0.00000375 (added)
  cache_read_input_token_cost: 0.0000003 -> none (removed)
  input_cost_per_token: 0.000003 -> 0.0000033 (+10%)
  input_cost_per_token_above_200k_tokens: none -> 0.000006 (added)
  output_cost_per_token_priority: 0.00003 -> 0.00002 (-33.33%)
changed: beta
  input_cost_per_token_batches: none -> 0.0000005 (added)
  output_cost_per_token: 0.000002 -> 0.000002000000000001 (+0.00000000005%)
  provider_specific_entry.us: none -> 1.1 (added)
changed: tiered
  tiered_pricing[0, 200000].input_cost_per_token: 0.000001 -> 0.000002 (+100%)
1 model added, 1 removed, 3 changed, 1 unchanged
"""

D = Decimal
DIFF_CHANGED = [
    ("alpha", [("cache_creation_input_token_cost", None, D("0.00000375"), None),
               ("cache_read_input_token_cost", D("0.0000003"), None, None),
               ("input_cost_per_token", D("0.000003"), D("0.0000033"), D("10")),
               ("input_cost_per_token_above_200k_tokens", None, D("0.000006"), None),
               ("output_cost_per_token_priority", D("0.00003"), D("0.00002"), D("-33.33"))]),
    ("beta", [("input_cost_per_token_batches", None, D("0.0000005"), None),
              ("output_cost_per_token", D("0.000002"), D("0.000002000000000001"), D("0.00000000005")),
              ("provider_specific_entry.us", None, D("1.1"), None)]),
    ("tiered", [("tiered_pricing[0, 200000].input_cost_per_token", D("0.000001"), D("0.000002"), D("100"))]),
]

SAME_AS_YAML = """\
{"alpha": {"input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5,
           "cache_read_input_token_cost": 3e-7, "output_cost_per_token_priority": 3e-5},
 "beta": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
 "gone": {"input_cost_per_token": 1e-6},
 "same": {"input_cost_per_token": 0.000001, "search_context_cost_per_query": {"search_context_size_low": 0.01}},
 "tiered": {"input_cost_per_token": 4e-6, "tiered_pricing": [{"range": [0, 200000], "input_cost_per_token": 1e-6}]}}
"""


def rates_of(changed):
    """[(model, [(field, old, new, percent), ...])] of a --json diff's changed list."""
    return [(m["model"], [(r["field"], r["old"], r["new"], r["change_percent"]) for r in m["rates"]])
            for m in changed]


def diff_cases(tmp):
    old, new = os.path.join(tmp, "old.yaml"), os.path.join(tmp, "new.json")
    write(old, OLD_YAML)
    write(new, NEW_JSON)
    rc, out, err = tollctl("prices", "diff", old, new)
    eq(rc, 0, "prices diff exits 0 when the maps differ")
    eq(out, DIFF_TEXT, "prices diff: added, removed, and every changed rate old -> new (change), exact")

    rc, out, err = tollctl("prices", "diff", "--json", old, new)
    try:
        j = decimals(out)
    except ValueError:
        j = {}
    ok(rc == 0 and j.get("old") == old and j.get("new") == new, "prices diff --json names both maps", out + err)
    eq((j.get("added"), j.get("removed"), j.get("unchanged"), j.get("old_models"), j.get("new_models")),
       (["fresh"], ["gone"], 1, 5, 5), "--json: added, removed, unchanged and the model counts")
    eq(rates_of(j.get("changed", [])), DIFF_CHANGED, "--json: each changed rate, old, new and change_percent as exact numbers")

    rc, out, err = tollctl("prices", "diff", old, old)
    ok(rc == 0 and out == "no changes (5 models)\n", "a map against itself: 'no changes', exit 0", out + err)
    same = os.path.join(tmp, "same.json")
    write(same, SAME_AS_YAML)
    rc, out, err = tollctl("prices", "diff", old, same)
    ok(rc == 0 and out.startswith("no changes"), "the YAML map against the same prices in JSON: no changes", out + err)

    missing = os.path.join(tmp, "missing.json")
    rc, out, err = tollctl("prices", "diff", old, missing)
    ok(rc == 1 and missing in err and out == "", "a missing map: exit 1, the message names it", err)
    bad = os.path.join(tmp, "bad.json")
    write(bad, '{"alpha": {"input_cost_per_token": 1e-6,, }}')
    rc, out, err = tollctl("prices", "diff", bad, new)
    ok(rc == 1 and (bad + ":1:") in err, "malformed JSON: exit 1, file:line:col in the message", err)
    rc, out, err = tollctl("prices", "diff", old)
    ok(rc == 1 and "two price files" in err, "one operand: exit 1, says two are needed", err)
    rc, out, err = tollctl("prices", "frobnicate")
    ok(rc == 1 and "unknown prices command 'frobnicate'" in err, "an unknown prices command: exit 1", err)


# ---- prices fetch ----------------------------------------------------------------

class Server:
    """Serves routes {path: (status, body, declared length or None)} on 127.0.0.1;
    a declared length beyond the body cuts the transfer short."""

    def __init__(self, routes):
        self.routes = routes

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, body, length = routes.get(self.path, (404, b"not found\n", None))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length if length is not None else len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def dumps(v):
    """JSON text of v with its Decimals written as they are (json cannot)."""
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (json.dumps(k), dumps(x)) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(dumps(x) for x in v) + "]"
    if isinstance(v, Decimal):
        return str(v)
    return json.dumps(v)


def models(m):
    return {k: v for k, v in m.items() if k != "sample_spec" and isinstance(v, dict)}


def cost_fields(entry):
    return {k: v for k, v in entry.items() if "cost" in k and isinstance(v, (Decimal, int))
            and not isinstance(v, bool)}


def percent(old, new):
    """The relative change as tollctl rounds it: half to even at 2 decimals, or at
    the first of up to 12 that shows it."""
    q = Fraction(new - old) * 100 / Fraction(old)
    for scale in range(2, 13):
        r = round(q, scale)
        if r != 0:
            return r
    return round(q, 12)


def expected_diff(old, new):
    """added, removed and {model: {field: (old, new)}} from the two maps' own JSON,
    for maps whose changes are all plain numeric price fields."""
    a, b = models(old), models(new)
    changed = {}
    for name in set(a) & set(b):
        fa, fb = cost_fields(a[name]), cost_fields(b[name])
        rates = {f: (fa.get(f), fb.get(f)) for f in set(fa) | set(fb) if fa.get(f) != fb.get(f)}
        if rates:
            changed[name] = rates
    return sorted(set(b) - set(a)), sorted(set(a) - set(b)), changed


def fixed(d):
    return format(d, "f")


def fetch_cases(tmp):
    base_text = read(SHARED)
    base = decimals(base_text)
    # the configuration's deployments and the entries they are priced by
    deployments = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"),
                   ("openai", "o3"), ("deepseek", "deepseek-chat")]
    in_use = ["%s/%s" % d if "%s/%s" % d in base else d[1] for d in deployments]
    if not ok(all(m in base for m in in_use) and len(set(in_use)) == 5,
              "the shared map prices the five deployments of the test's configuration", in_use):
        return
    prices_dir = os.path.join(tmp, "prices")
    installed = os.path.join(prices_dir, NAME)
    config = os.path.join(tmp, "tollgate.yaml")
    write(config, "tollgate:\n  price_files: [%s, %s]\nmodel_list:\n%s"
          "general_settings:\n  master_key: sk-prices-fetch-t\n" %
          (installed, os.path.join(SRC, "etc", "prices.yaml"),
           "".join("  - model_name: %s\n    litellm_params: {model: %s/%s}\n" % (m, p, m) for p, m in deployments)))

    # the good map: two prices in use change, a rate appears, a model is added,
    # and 300 models nobody uses (10% of the map) are gone
    good = decimals(base_text)
    good["gpt-4o"]["input_cost_per_token"] = Decimal("3E-6")
    good["claude-sonnet-4-5"]["output_cost_per_token"] = Decimal("1.65E-5")
    good["gpt-4o-mini"]["output_cost_per_token_flex"] = Decimal("3E-7")
    unused = [k for k in sorted(models(base)) if k not in in_use][:300]
    for k in unused:
        del good[k]
    good["tollgate-test-model"] = {"input_cost_per_token": Decimal("1E-6"), "litellm_provider": "openai",
                                   "mode": "chat"}
    good_text = dumps(good).encode()
    drop = decimals(base_text)
    dropped = ["gpt-4o", "gpt-4o-mini", "o3"]
    for k in dropped:
        del drop[k]
    x100 = decimals(base_text)
    x100["gpt-4o-mini"]["input_cost_per_token"] *= 100
    routes = {
        "/good.json": (200, good_text, None),
        "/truncated.json": (200, good_text[:len(good_text) // 2], None),
        "/cut.json": (200, good_text[:len(good_text) // 2], len(good_text)),
        "/page.html": (200, b"<html><body>rate limited</body></html>\n", None),
        "/empty.json": (200, b"{}\n", None),
        "/drop.json": (200, dumps(drop).encode(), None),
        "/x100.json": (200, dumps(x100).encode(), None),
    }
    server = Server(routes)
    try:
        fetch_against(server, tmp, base_text, base, good, good_text, in_use, dropped, unused,
                      prices_dir, installed, config)
    finally:
        server.stop()


def install_base(prices_dir, installed, base_text):
    os.makedirs(prices_dir, exist_ok=True)
    write(installed, base_text)


def fetch_against(server, tmp, base_text, base, good, good_text, in_use, dropped, unused,
                  prices_dir, installed, config):
    url = server.url
    install_base(prices_dir, installed, base_text)

    def fetch(path, *more, env=None):
        return tollctl("prices", "fetch", "--url", url + path, "--to", prices_dir, "--config", config, *more,
                       env=env)

    def untouched(what):
        ok(read(installed) == base_text and os.listdir(prices_dir) == [NAME],
           "%s: the installed map is byte for byte the old one, nothing else in its directory" % what,
           os.listdir(prices_dir))

    refused = [
        ("/missing.json", 1, ["HTTP 404", url + "/missing.json", "left as it is"], "a 404"),
        ("/truncated.json", 1, [url + "/truncated.json:", "truncated", "left as it is"], "a truncated map"),
        ("/cut.json", 1, ["cannot download", url + "/cut.json", "left as it is"],
         "a transfer cut short of its Content-Length"),
        ("/page.html", 1, ["not a JSON price map", "<html>"], "an HTML page"),
        ("/empty.json", 1, ["holds no models"], "an empty map"),
        ("/drop.json", 4, ["refusing", "no longer prices 3 of the 5 models in use (60%",
                           "more than --max-drop 5%", "--force"] + dropped,
         "a map that drops three of the five models in use"),
        ("/x100.json", 4, ["refusing", "more than --max-factor 10",
                           "gpt-4o-mini input_cost_per_token 0.00000015 -> 0.000015 (x100)", "--force"],
         "a map that puts a price in use up 100x"),
    ]
    for path, want_rc, words, what in refused:
        rc, out, err = fetch(path)
        missing = [w for w in words if w not in err]
        ok(rc == want_rc and not missing, "%s: exit %d and says why" % (what, want_rc),
           "exit %d, missing %s in:\n%s" % (rc, missing, err))
        untouched(what)
    rc, out, err = fetch("/drop.json")
    ok(all("removed: %s\n" % m in out for m in dropped), "the refused map's diff is printed: the dropped models", out)

    port = dead_port()
    rc, out, err = tollctl("prices", "fetch", "--url", "http://127.0.0.1:%d/prices.json" % port,
                           "--to", prices_dir, "--config", config)
    ok(rc == 1 and "cannot download" in err and "left as it is" in err,
       "offline (connection refused): exit 1, says the download failed and the map is kept", err)
    untouched("offline")

    rc, out, err = fetch("/drop.json", "--force")
    ok(rc == 0 and "--force" in err and read(installed) == server.routes["/drop.json"][1],
       "--force installs the map that drops models in use", err)
    install_base(prices_dir, installed, base_text)
    rc, out, err = fetch("/x100.json", "--max-factor", "150")
    ok(rc == 0 and read(installed) == server.routes["/x100.json"][1],
       "--max-factor 150 lets a 100x change through", err)
    install_base(prices_dir, installed, base_text)
    rc, out, err = fetch("/drop.json", "--max-drop", "60")
    ok(rc == 0 and "within --max-drop 60%" in err, "--max-drop 60 lets 3 of 5 go, with a warning", err)
    install_base(prices_dir, installed, base_text)

    # the good map, and its diff worked out here from the two JSON texts
    rc, out, err = fetch("/good.json", "--json")
    ok(rc == 0 and "installed" in err, "the good map is installed: exit 0", err)
    ok(read(installed) == good_text and os.listdir(prices_dir) == [NAME],
       "the installed file is the download, byte for byte, and no temporary file is left")
    ok(os.stat(installed).st_mode & 0o777 == 0o644, "and is readable by all (0644)", oct(os.stat(installed).st_mode))
    added, removed, changed = expected_diff(base, good)
    ok(len(removed) == 300 and len(changed) == 3 and added == ["tollgate-test-model"],
       "the test's own diff of the two maps: 1 added, 300 removed, 3 changed")
    try:
        j = decimals(out)
    except ValueError:
        j = {}
    eq((sorted(j.get("added", [])), sorted(j.get("removed", []))), (added, removed),
       "fetch --json: the models added and removed are those of the JSON texts")
    got = {m["model"]: {r["field"]: (r["old"], r["new"], r["change_percent"]) for r in m["rates"]}
           for m in j.get("changed", [])}
    want = {m: {f: (o, n, None if o is None or n is None else percent(o, n)) for f, (o, n) in rates.items()}
            for m, rates in changed.items()}
    same = got.keys() == want.keys() and all(
        got[m].keys() == want[m].keys() and all(
            Fraction(g[0] or 0) == Fraction(w[0] or 0) and Fraction(g[1] or 0) == Fraction(w[1] or 0) and
            (g[0] is None) == (w[0] is None) and (g[1] is None) == (w[1] is None) and
            (g[2] is None) == (w[2] is None) and (w[2] is None or Fraction(g[2]) == w[2])
            for g, w in ((got[m][f], want[m][f]) for f in want[m]))
        for m in want)
    ok(same, "fetch --json: every changed rate, old, new and the change computed here from the JSON",
       "got:  %s\nwant: %s" % (got, want))
    eq(j.get("unchanged"), len(set(models(base)) & set(models(good))) - len(changed),
       "fetch --json: the unchanged count")
    ok(not [l for l in err.splitlines() if "does not list" in l],
       "no warning when the configuration lists the installed map", err)

    stat = os.stat(installed)
    rc, out, err = fetch("/good.json")
    after = os.stat(installed)
    ok(rc == 3 and "already current" in err and (after.st_ino, after.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns),
       "the same map again: exit 3, 'already current', the file not rewritten", err)

    # the text diff, figures from the JSON
    install_base(prices_dir, installed, base_text)
    rc, out, err = fetch("/good.json")
    old_in, new_in = base["gpt-4o"]["input_cost_per_token"], good["gpt-4o"]["input_cost_per_token"]
    change = percent(old_in, new_in)
    line = "  input_cost_per_token: %s -> %s (+%s%%)\n" % (
        fixed(old_in), fixed(new_in), fixed((Decimal(change.numerator) / Decimal(change.denominator)).normalize()))
    ok(rc == 0 and "changed: gpt-4o\n" + line in out and "added: tollgate-test-model\n" in out and
       "1 model added, 300 removed, 3 changed, " in out,
       "the text diff: gpt-4o's input price, the new model, the counts", line + out[-300:])

    # $TOLLGATE_PRICES_URL, and a first installation into a directory that is not there yet
    install_base(prices_dir, installed, base_text)
    rc, out, err = tollctl("prices", "fetch", "--to", prices_dir, "--config", config,
                           env=dict(ENV, TOLLGATE_PRICES_URL=url + "/good.json"))
    ok(rc == 0 and read(installed) == good_text, "without --url, $TOLLGATE_PRICES_URL is fetched", err)
    fresh = os.path.join(tmp, "fresh")
    rc, out, err = tollctl("prices", "fetch", "--url", url + "/good.json", "--to", fresh, "--config", config)
    ok(rc == 0 and read(os.path.join(fresh, NAME)) == good_text and "nothing to compare with" in err,
       "a first fetch makes its directory and installs the map", err)
    ok("does not list" in err and os.path.join(fresh, NAME) in err,
       "and warns that the configuration does not read it there", err)

    # without a configuration every model of the installed map is in use: losing
    # 300 of them (10%) is then beyond --max-drop 5
    install_base(prices_dir, installed, base_text)
    help_text = tollctl("prices", "--help")[1]
    default = [w for w in help_text.split() if w.endswith("tollgate.yaml;")]
    if default and os.access(default[0].rstrip(";"), os.R_OK):
        skip("the default configuration %s is readable here" % default[0].rstrip(";"))
    else:
        rc, out, err = tollctl("prices", "fetch", "--url", url + "/good.json", "--to", prices_dir)
        ok(rc == 4 and "no longer prices 300 of the %d models in use" % len(models(base)) in err,
           "no configuration: every installed model counts, and 300 gone is refused", err)
        untouched("no configuration")
    rc, out, err = fetch("/good.json", "--config", os.path.join(tmp, "nope.yaml"))
    ok(rc == 1 and "nope.yaml" in err, "a --config that does not load: exit 1, named", err)
    untouched("a --config that does not load")
    for opt, value in (("--max-drop", "lots"), ("--max-drop", "101"), ("--max-factor", "0.5")):
        rc, out, err = fetch("/good.json", opt, value)
        ok(rc == 1 and opt in err and value in err, "%s %s: exit 1, named" % (opt, value), err)
    untouched("bad options")
    rc, out, err = tollctl("prices", "fetch", "--url", "ftp://127.0.0.1/x.json", "--to", prices_dir, "--config", config)
    ok(rc == 1 and "not an https:// or http:// URL" in err, "an ftp:// URL is refused", err)


def main():
    tmp = tempfile.mkdtemp(prefix="tollgate-prices-")
    try:
        diff_cases(tmp)
        if not os.path.exists(SHARED):
            skip("../shared/data/litellm_model_prices.json is absent: prices fetch not tried")
        else:
            fetch_cases(tmp)
    finally:
        if not os.environ.get("TOLLGATE_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            diag("kept " + tmp)
    done()


main()

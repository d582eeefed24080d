#!/usr/bin/python3
"""The dashboard end to end in headless Chromium: after a scripted load, signs
in at /ui with the master key, waits for the page to load its data, and checks
that the spend it shows for today, 7 and 30 days equals `tollctl spend`, that
the chart was drawn with the system's Chart.js, one series per model_name (a
deployment with prices of its own too, its deployment and price entry under
it in the top models), that the latest requests are
listed, and that the key is in no URL and no log; saves a screenshot as
build/dashboard.png.  Chromium is Debian's (/usr/bin/chromium), driven by
playwright-core from npm, installed once into build/e2e.  Skips, saying why,
where Chromium, node or the npm package cannot be had."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, MASTER_KEY, SRC, Gateway, Mock, done, eq, ok, teardown, wait_until  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHARTJS = "/usr/share/javascript/chart.js/chart.min.js"
E2E = os.path.join(BUILD, "e2e")
SCREENSHOT = os.path.join(BUILD, "dashboard.png")

DRIVER = r"""
const { chromium } = require("playwright-core");
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true,
                                          args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
  const urls = [];
  const errors = [];
  page.on("request", (r) => urls.push(r.url()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(process.env.URL + "/ui");
  await page.fill("#key", process.env.KEY);
  await page.click("#signin button[type=submit]");
  const loaded = async () => {
    try {
      await page.waitForSelector("body[data-loaded=true]", { state: "attached", timeout: 15000 });
    } catch (e) {
      const why = await page.evaluate(() => document.getElementById("status").textContent + " / " +
        document.getElementById("signin-error").textContent);
      throw new Error("the page did not load: " + why + " " + errors.join("; "));
    }
  };
  await loaded();
  const read = () => page.evaluate(() => ({
    today: document.getElementById("total-today").dataset.exact,
    d7: document.getElementById("total-7d").dataset.exact,
    d30: document.getElementById("total-30d").dataset.exact,
    chart: typeof Chart !== "undefined" && Chart.getChart("trend") !== undefined,
    latest: document.querySelectorAll("#latest tbody tr").length,
    top: document.querySelectorAll("#top tbody tr").length,
    budgets: document.querySelectorAll("#budgets tbody tr").length,
    deployments: [...document.querySelectorAll("#deployments tbody tr")].map((tr) =>
      [...tr.cells].slice(0, 3).map((c) => c.textContent)),
    /* the chart's series; the top models' names and, under each, what served it */
    series: typeof Chart === "undefined" || !Chart.getChart("trend") ? [] :
      Chart.getChart("trend").data.datasets.map((d) => d.label),
    models: [...document.querySelectorAll("#top tbody tr")].map((tr) =>
      [".name", ".served"].map((s) => tr.cells[0].querySelector(s)?.textContent)),
    stored: sessionStorage.getItem("tollgate.key") !== null,
  }));
  const first = await read();
  await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
  /* user-controlled names (aliases, teams, tags) are text on the page, never markup */
  const hostile = {};
  for (const top of ["key", "team", "tag"]) {
    await page.click(".tabs button[data-top=" + top + "]");
    await page.waitForFunction((t) => document.querySelector("#top thead th").textContent === t, top);
    hostile[top] = await page.evaluate(() => document.querySelector("#top tbody").textContent);
  }
  hostile.elements = await page.evaluate(() =>
    document.querySelectorAll("#dashboard img, #dashboard svg, #dashboard script, #dashboard b").length);
  hostile.ran = await page.evaluate(() => window.__xss === undefined ? null : window.__xss);
  /* a reload keeps the session; signing out forgets the key */
  await page.reload();
  await loaded();
  const reloaded = await read();
  await page.click("#signout");
  const after = await page.evaluate(() => ({
    stored: sessionStorage.getItem("tollgate.key") !== null,
    signin: !document.getElementById("signin-view").hidden,
  }));
  /* a wrong key is refused on the sign-in form */
  await page.fill("#key", "sk-wrong");
  await page.click("#signin button[type=submit]");
  await page.waitForFunction(() => document.getElementById("signin-error").textContent !== "");
  const refused = await page.evaluate(() => document.getElementById("signin-error").textContent);
  console.log(JSON.stringify({ first, hostile, reloaded, after, refused, urls, errors }));
  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
"""


# names a client or a key's owner chooses, which the page must show as text
HOSTILE = {"key": "<img src=x onerror=\"window.__xss='alias'\">",
           "team": "<b>team</b><script>window.__xss='team'</script>",
           "tag": "<svg onload=\"window.__xss='tag'\"></svg>"}


def skip_all(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


def playwright():
    """build/e2e/node_modules/playwright-core, installed once; None when it cannot be."""
    mod = os.path.join(E2E, "node_modules", "playwright-core")
    if os.path.isdir(mod):
        return mod
    if shutil.which("npm") is None:
        return None
    os.makedirs(E2E, exist_ok=True)
    try:
        # without a registry in reach, give up quickly rather than slow make check down
        r = subprocess.run(["npm", "install", "--prefix", E2E, "--no-audit", "--no-fund", "--silent",
                            "--fetch-retries=0", "--fetch-timeout=20000", "playwright-core@1"],
                           capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired:
        return None
    return mod if r.returncode == 0 and os.path.isdir(mod) else None


def spend_since(gw, since):
    out = subprocess.run([os.path.join(BUILD, "tollctl"), "spend", "--ledger", gw.ledger, "--since", since,
                          "--format", "json"], capture_output=True, text=True)
    return Decimal(json.loads(out.stdout, parse_float=str)["cost_usd"])


def day(offset):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - offset * 86400))


def main():
    if not os.access(CHROMIUM, os.X_OK):
        skip_all("no %s (apt install chromium)" % CHROMIUM)
    if shutil.which("node") is None:
        skip_all("no node (apt install nodejs npm)")
    if not os.path.exists(CHARTJS):
        skip_all("no %s (apt install libjs-chart.js)" % CHARTJS)
    if playwright() is None:
        skip_all("playwright-core cannot be installed from npm into %s" % E2E)
    scratch = tempfile.mkdtemp(prefix="tollgate-e2e-")
    mock = Mock()
    gw = Gateway(mock, tollgate_extra="  ui_dir: %s\n  ui_chartjs: %s\n  access_log: %s\n"
                 "  budgets:\n    - {scope: team, name: red, max_budget: 5, budget_duration: 1d}\n" %
                 (os.path.join(SRC, "contrib", "ui"), CHARTJS, os.path.join(scratch, "access.log")))
    try:
        st, h, body = gw.post("/key/generate", {"key_alias": "bot", "team_id": "red", "max_budget": 10,
                                                "budget_duration": "1d"})
        secret = json.loads(body)["key"]
        for i in range(3):
            gw.post("/v1/chat/completions", {"model": "demo", "messages": [],
                                             "metadata": {"tags": ["e2e"]}, "mock": {"cached_tokens": 100 + i}},
                    key=secret)
        gw.post("/v1/messages", {"model": "claude", "max_tokens": 10, "messages": [],
                                 "mock": {"cache_write_tokens": 200}})
        # a deployment with prices of its own (model_info): shown under its model_name
        gw.post("/v1/chat/completions", {"model": "priced", "messages": []})
        st, h, body = gw.post("/key/generate", {"key_alias": HOSTILE["key"], "team_id": HOSTILE["team"]})
        gw.post("/v1/chat/completions", {"model": "demo", "messages": [],
                                         "metadata": {"tags": [HOSTILE["tag"]]}},
                key=json.loads(body)["key"])
        ok(wait_until(lambda: len(gw.records()) == 6 and spend_since(gw, day(0)) > 0, 15),
           "the load is in the ledger and the aggregates")
        time.sleep(1.5)	# a follow interval: the aggregates hold every record
        driver = os.path.join(scratch, "driver.js")
        with open(driver, "w") as f:
            f.write(DRIVER)
        t0 = time.time()
        r = subprocess.run(["node", driver], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, NODE_PATH=os.path.join(E2E, "node_modules"),
                                    CHROMIUM=CHROMIUM, URL="http://127.0.0.1:%d" % gw.port,
                                    KEY=MASTER_KEY, SCREENSHOT=SCREENSHOT))
        if not ok(r.returncode == 0, "the browser signs in and loads the dashboard (%.1f s)" % (time.time() - t0),
                  r.stderr[-3000:]):
            return
        got = json.loads(r.stdout.strip().splitlines()[-1])
        first = got["first"]
        for key, since in (("today", day(0)), ("d7", day(6)), ("d30", day(29))):
            eq(Decimal(first[key] or "-1"), spend_since(gw, since),
               "the page's %s total equals tollctl spend --since %s" % (key, since))
        ok(first["chart"], "the trend chart was drawn with the system's Chart.js")
        eq(first["latest"], 6, "the latest requests: the 6 of the load")
        records = gw.records()
        eq(first["series"], sorted({r["model_requested"] for r in records}),
           "the chart has one series per model_name asked for")
        eq(sorted(m[0] for m in first["models"]), sorted({r["model_requested"] for r in records}),
           "the top models are the model_names")
        own = next(r for r in records if r["model_requested"] == "priced")
        ok(own["priced_as"].startswith("deployment:priced/") and
           [own["provider"] + "/" + own["deployment"] + " (" + own["priced_as"] + ")"] ==
           [m[1] for m in first["models"] if m[0] == "priced"],
           "a model with prices of its own shows its deployment and price entry under its name",
           (own["priced_as"], first["models"]))
        hostile = got["hostile"]
        for top in ("key", "team", "tag"):
            ok(HOSTILE[top] in hostile[top], "the %s named %r is shown as text" % (top, HOSTILE[top]),
               hostile[top])
        eq((hostile["elements"], hostile["ran"]), (0, None), "no markup of theirs made an element or ran")
        ok(first["top"] >= 2 and first["budgets"] >= 2, "top models and budgets are listed", first)
        ok(["demo", "openai/gpt-4o-mini", "ready"] in first["deployments"],
           "the deployments are listed with their routing state", first["deployments"])
        ok(first["stored"] and got["reloaded"]["stored"] and got["reloaded"]["today"] == first["today"],
           "a reload keeps the session and shows the same totals")
        ok(not got["after"]["stored"] and got["after"]["signin"], "signing out forgets the key")
        ok("master key" in got["refused"] or "key" in got["refused"], "a wrong key is refused on the form",
           got["refused"])
        eq(got["errors"], [], "no script error on the page")
        ok(not any(MASTER_KEY in u for u in got["urls"]), "the key is in no URL the page asked for")
        ok(got["urls"] and all(u.startswith("http://127.0.0.1:%d/" % gw.port) for u in got["urls"]),
           "the page asks nothing of any other origin")
        with open(os.path.join(scratch, "access.log")) as f:
            access = f.read()
        ok(MASTER_KEY not in gw.logtext() and MASTER_KEY not in access, "the key is in no log")
        ok(os.path.getsize(SCREENSHOT) > 10000, "a screenshot saved as %s" % SCREENSHOT)
    finally:
        teardown(gw, mock, scratch)
    done()


main()

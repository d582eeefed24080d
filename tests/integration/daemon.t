#!/usr/bin/python3
"""tollgated as an operator runs it: -t checks a config, SIGUSR1 reopens the
log file after rotation, client_timeout does not cut long answers, and a
master killed outright takes its children down."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, MASTER_KEY, USER_KEY, Gateway, Mock, adopt, done, ok, skip, wait_until  # noqa: E402


def check_config(gw):
    tollgated = os.path.join(BUILD, "tollgated")
    r = subprocess.run([tollgated, "-t", "-c", gw.config], capture_output=True, text=True)
    ok(r.returncode == 0 and "valid" in r.stdout, "tollgated -t accepts a good config", r.stderr)
    bad = os.path.join(gw.dir, "bad.yaml")
    with open(bad, "w") as f:
        f.write("tollgate:\n  port: seventy\nmodel_list: []\n")
    r = subprocess.run([tollgated, "-t", "-c", bad], capture_output=True, text=True)
    ok(r.returncode == 1 and (bad + ":2:") in r.stderr, "and refuses a bad one, naming file:line", r.stderr)
    r = subprocess.run([tollgated, "-t", "-c", os.path.join(gw.dir, "missing.yaml")], capture_output=True, text=True)
    ok(r.returncode == 1 and "missing.yaml" in r.stderr, "a missing config names the file", r.stderr)


LITELLM_ONLY = """\
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/TG_TEST_OPENAI_KEY
general_settings:
  master_key: sk-1234
"""


def price_fallback(gw):
    """A LiteLLM config names no price map: a build-tree binary finds the source
    tree's; one with no tree beside it says how to name one."""
    cfg = os.path.join(gw.dir, "litellm.yaml")
    with open(cfg, "w") as f:
        f.write(LITELLM_ONLY)
    env = dict(os.environ, TG_TEST_OPENAI_KEY="k")
    tree_map = os.path.realpath(os.path.join(BUILD, "..", "etc", "prices.yaml"))
    r = subprocess.run([os.path.join(BUILD, "tollgated"), "-t", "-c", cfg], capture_output=True, text=True,
                       env=env, timeout=60)
    ok(r.returncode == 0 and "valid" in r.stdout, "tollgated -t accepts a LiteLLM config with no tollgate: section",
       r.stderr)
    help_text = subprocess.run([os.path.join(BUILD, "tollctl"), "cost", "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    m = re.search(r"\(default: (\S+),", help_text)
    installed = m.group(1) if m else None
    ok(installed is not None, "tollctl cost --help names the installed price map", help_text)
    if installed and os.path.exists(installed):
        for _ in range(3):
            skip("%s is installed: it is the default, not the tree's" % installed)
        return
    ok(tree_map in r.stderr, "and prices it from the source tree's etc/prices.yaml", r.stderr)
    alone = os.path.join(gw.dir, "bin")
    os.mkdir(alone)
    shutil.copy(os.path.join(BUILD, "tollgated"), alone)
    r = subprocess.run([os.path.join(alone, "tollgated"), "-t", "-c", cfg], capture_output=True, text=True,
                       env=env, timeout=60)
    ok(r.returncode == 1 and installed in r.stderr and "name one with tollgate.price_files" in r.stderr,
       "a binary with no tree beside it names the maps it tried and how to give one", r.stderr)
    shutil.copy(os.path.join(BUILD, "tollctl"), alone)
    r = subprocess.run([os.path.join(alone, "tollctl"), "cost", "--model", "gpt-4o"], input="{}",
                       capture_output=True, text=True, timeout=60)
    ok(r.returncode == 1 and "name one with --prices FILE" in r.stderr,
       "as does tollctl cost with no --prices", r.stderr)


def reopen_log(gw, logfile):
    ok(wait_until(lambda: os.path.exists(logfile) and "listening on" in open(logfile).read(), 5),
       "tollgate.log_file receives the log")
    os.rename(logfile, logfile + ".1")
    gw.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    gw.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: os.path.exists(logfile) and "reloading" in open(logfile).read(), 5),
       "after SIGUSR1 the log goes to a new file")
    ok("reloading" not in open(logfile + ".1").read(), "and no longer to the rotated one")


def long_stream(gw):
    body = {"model": "demo", "stream": True, "messages": [], "mock": {"chunks": 6, "chunk_delay_ms": 500}}
    st, h, data = gw.post("/v1/chat/completions", body)
    ok(st == 200 and data.rstrip().endswith(b"data: [DONE]"),
       "a stream that lasts longer than client_timeout (1 s) is not cut", data[-200:])
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec is not None and rec.get("flags") == [], "and its record has no flag", rec)


def rerate(gw):
    tollctl = os.path.join(BUILD, "tollctl")
    for _ in range(2):
        gw.post("/v1/chat/completions", {"model": "demo", "messages": []})
    newprices = os.path.join(gw.dir, "corrected.yaml")
    with open(newprices, "w") as f:
        f.write("gpt-4o-mini:\n  input_cost_per_token: 3e-7\n  output_cost_per_token: 6e-7\n")
    args = [tollctl, "rerate", "--prices", newprices, "--since", "1h", "--until", "2100-01-01",
            "--ledger", gw.ledger, "--model", "demo"]
    r = subprocess.run(args, capture_output=True, text=True)
    # three demo requests (the long stream and these two), each 1000 * 1.5e-7 + 50 * 6e-7 = 0.00018
    # as recorded and 1000 * 3e-7 + 50 * 6e-7 = 0.00033 re-rated
    ok(r.returncode == 0 and "0.00054" in r.stdout and "0.00099" in r.stdout and "0.00045" in r.stdout,
       "tollctl rerate: recorded and re-rated totals per model", r.stdout + r.stderr)
    r = subprocess.run(args + ["--apply"], capture_output=True, text=True)
    ok(r.returncode == 0 and "3 adjustment records appended" in r.stdout, "--apply appends adjustments", r.stdout)
    r = subprocess.run(args + ["--apply"], capture_output=True, text=True)
    ok(r.returncode == 0 and "0 adjustment records appended" in r.stdout, "and a second run adds nothing",
       r.stdout)

    def spend_is_rerated():
        out = subprocess.run([tollctl, "spend", "--by", "model", "--format", "json", "--ledger", gw.ledger],
                             capture_output=True, text=True).stdout
        rows = [json.loads(l) for l in out.splitlines()]
        return rows and rows[0]["requests"] == 3 and str(rows[0]["cost_usd"]) == "0.00099"
    ok(wait_until(spend_is_rerated, 10), "spend counts the adjustments' cost, not extra requests")


def exported(gw, export_dir):
    import csv
    import time as _time
    from decimal import Decimal
    day = _time.strftime("%Y-%m-%d", _time.gmtime())
    path = os.path.join(export_dir, "spend-%s.csv" % day)
    recs = [r for r in gw.records() if r["end"].startswith(day)]
    adjustments = [r for r in recs if "adjustment" in r["flags"]]

    def matches():
        rows = list(csv.DictReader(open(path)))
        lines = [json.loads(l) for l in open(path[:-4] + ".jsonl")]
        return (sum(int(r["requests"]) for r in rows) == len(recs) - len(adjustments) and
                sum(Decimal(r["cost_usd"]) for r in rows) == sum(Decimal(r["cost_usd"]) for r in recs) and
                len(lines) == len(rows))
    ok(wait_until(lambda: os.path.exists(path) and matches(), 10),
       "export_dir: today's CSV and JSON Lines files match the raw records (requests, cost)")
    ok(not [n for n in os.listdir(export_dir) if n.endswith(".tmp")], "no temporary file is left behind")


def access_log(gw, path):
    st, h, body = gw.post("/key/generate", {"key_alias": "access-bot"})
    secret = json.loads(body)["key"]
    ids = []
    for key in (secret, None):
        st, h, _ = gw.post("/v1/chat/completions", {"model": "demo", "messages": []},
                           **({"key": key} if key else {}))
        ids.append(h.get("x-tollgate-request-id"))

    def lines():
        if not os.path.exists(path):
            return []
        return [json.loads(l, parse_float=str) for l in open(path) if l.strip()]
    ok(wait_until(lambda: set(ids) <= set(l.get("id") for l in lines()), 5),
       "access_log: a JSON line per request", lines()[-3:])
    got = {l["id"]: l for l in lines()}
    first = got.get(ids[0], {})
    rec = gw.record(ids[0]) or {}
    ok(first.get("key_alias") == "access-bot" and first.get("cost_usd") == rec.get("cost_usd") and
       first.get("status") == 200 and "latency_ms" in first and "ttfb_ms" in first and
       first.get("tokens", {}).get("input") == rec.get("tokens", {}).get("input"),
       "with the key's alias, status, latency, TTFB, tokens and the record's exact cost", first)
    os.rename(path, path + ".1")
    gw.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.5)
    st, h, _ = gw.post("/v1/chat/completions", {"model": "demo", "messages": []})
    rid = h.get("x-tollgate-request-id")
    ok(wait_until(lambda: rid in [l.get("id") for l in lines()], 5), "after SIGUSR1 it goes to a new file")
    with open(path + ".1") as f:
        ok(rid not in f.read(), "and no longer to the rotated one")
    return secret


def no_secrets(gw, files, secrets):
    text = gw.logtext() + "".join(open(f).read() for f in files if os.path.exists(f))
    ok(text and not [s for s in secrets if s in text],
       "no secret in the log or the access log (master, client, virtual and upstream keys)")


def master_killed(gw):
    kids = gw.children()
    ok(len(kids) == 3, "two workers and an accountant run", kids)
    gw.proc.kill()
    gw.proc.wait()

    def gone():
        return all(not os.path.exists("/proc/%d" % p) or open("/proc/%d/stat" % p).read().split()[2] == "Z"
                   for p in kids)
    ok(wait_until(gone, 10), "a master killed with SIGKILL takes its children down")


def daemonised(gw):
    """Without -f tollgated forks away from its starter: the live files must name the
    pid that stays, not the one that exited."""
    tollctl = os.path.join(BUILD, "tollctl")
    # the daemon keeps the standard error it was given (there is a log_file): not a pipe
    rc = subprocess.run([os.path.join(BUILD, "tollgated"), "-c", gw.config, "--ledger", gw.ledger,
                         "--run-dir", gw.run_dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        timeout=30).returncode
    ok(rc == 0, "tollgated without -f returns once it is a daemon")

    def status_pid():
        s = subprocess.run([tollctl, "status", "--run-dir", gw.run_dir, "--json"], capture_output=True,
                           text=True)
        return json.loads(s.stdout)["master"]["pid"] if s.returncode == 0 else None
    ok(wait_until(lambda: status_pid() is not None, 15), "the daemon runs")
    pid = status_pid()
    if pid:
        adopt(pid)
    st = subprocess.run([tollctl, "stat", "--ledger", gw.ledger, "--run-dir", gw.run_dir],
                        capture_output=True, text=True).stdout
    ok(pid and os.path.exists("/proc/%d" % pid) and ("master pid %d," % pid) in st,
       "tollctl stat and status name the daemon's pid (%s)" % pid, st)
    if pid:
        os.kill(pid, signal.SIGTERM)
        ok(wait_until(lambda: not os.path.exists("/proc/%d" % pid), 20), "the daemon stops on SIGTERM")


def main():
    mock = Mock()
    logdir = os.path.join("/tmp", "tollgate-log-%d" % os.getpid())
    os.makedirs(logdir, exist_ok=True)
    logfile = os.path.join(logdir, "tollgated.log")
    exportdir = os.path.join(logdir, "export")
    accesslog = os.path.join(logdir, "access.log")
    gw = Gateway(mock, tollgate_extra="  log_file: %s\n  client_timeout: 1s\n  export_dir: %s\n"
                 "  export_interval: 1s\n  access_log: %s\n" % (logfile, exportdir, accesslog))
    try:
        check_config(gw)
        price_fallback(gw)
        reopen_log(gw, logfile)
        long_stream(gw)
        rerate(gw)
        exported(gw, exportdir)
        secret = access_log(gw, accesslog)
        no_secrets(gw, [logfile, logfile + ".1", accesslog, accesslog + ".1"],
                   [MASTER_KEY, USER_KEY, secret, "mock-upstream-key", "anthropic-upstream-key"])
        master_killed(gw)
        daemonised(gw)
    finally:
        gw.stop(signal.SIGKILL)
        gw.cleanup()
        shutil.rmtree(logdir, ignore_errors=True)
        mock.stop()
    done()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The daily summary of yesterday's spend (issue 14).  A gateway started on
a fresh ledger sends none, on no channel and not in the log: yesterday ended
before it began.  A gateway whose ledger holds a record from three days ago
ran yesterday, with no requests: its summary of "$0 in 0 requests" reaches
the webhook once and is logged at info level, while an unpriced model's
alert, a first sighting, stays a warning.

tollgated from TOLLGATE_BUILD (default <repo>/build) with port 0, the port
read back from its "listening on" line; every process started here runs in
a session of its own, killed in a finally."""
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, MASTER_KEY, Receiver, done, ok, skip, wait_until  # noqa: E402


def utc_day(offset_days=0):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + offset_days * 86400))


def of(hook, kind):
    """The JSON documents of one type the webhook got."""
    return [d for d in (json.loads(b) for _, b in hook.posts("/hook")) if d.get("type") == kind]


def spawn(argv, **kw):
    return subprocess.Popen(argv, start_new_session=True, **kw)


def kill(proc, timeout=20):
    """SIGTERM, then SIGKILL to the process and whatever is left of its session."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


CONFIG = """\
x-mock: &mock
  api_base: http://127.0.0.1:%(mock)d/v1
  api_key: mock-upstream-key
tollgate:
  listen: 127.0.0.1
  port: 0
  user: %(user)s
  workers: 1
  price_files: [prices.yaml]
  ledger_sync_interval: 200ms
  shutdown_timeout: 5s
  alerts:
    channels:
      - {type: webhook, url: "http://127.0.0.1:%(hook)d/hook"}
general_settings:
  master_key: %(master)s
model_list:
  - model_name: nameless
    litellm_params:
      <<: *mock
      model: openai/no-such-price
  - model_name: nameless-too
    litellm_params:
      <<: *mock
      model: openai/no-such-price
"""


class Gateway:
    def __init__(self, top, name, mock_port, hook_port, seed=None):
        self.dir = os.path.join(top, name)
        os.mkdir(self.dir)
        self.ledger = os.path.join(self.dir, "ledger")
        self.logpath = os.path.join(self.dir, "tollgated.log")
        self.proc, self.port = None, None
        with open(os.path.join(self.dir, "prices.yaml"), "w") as f:
            f.write("{}\n")
        self.config = os.path.join(self.dir, "tollgate.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG % {"mock": mock_port, "hook": hook_port, "master": MASTER_KEY,
                              "user": pwd.getpwuid(os.getuid()).pw_name})
        if seed is not None:
            seed(self.ledger)

    def start(self):
        with open(self.logpath, "w") as log:
            self.proc = spawn([os.path.join(BUILD, "tollgated"), "-f", "-c", self.config,
                               "--ledger", self.ledger, "--run-dir", os.path.join(self.dir, "run")],
                              stdout=log, stderr=subprocess.STDOUT)

        def listening():
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
            return m is not None
        if not wait_until(lambda: listening() or self.proc.poll() is not None, 15) or self.port is None:
            raise RuntimeError("tollgated did not start:\n" + self.log())

    def log(self):
        with open(self.logpath) as f:
            return f.read()

    def chat(self, model):
        body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("POST", "/v1/chat/completions", body=json.dumps(body),
                      headers={"Content-Type": "application/json", "Authorization": "Bearer " + MASTER_KEY})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def alerts(self):
        out = subprocess.run([os.path.join(BUILD, "tollctl"), "alerts", "--ledger", self.ledger],
                             capture_output=True, text=True, timeout=20)
        return out.stdout + out.stderr


def fresh(top, mock_port):
    hook = Receiver()
    gw = Gateway(top, "fresh", mock_port, hook.port)
    try:
        day = utc_day()
        gw.start()
        # two sightings in turn: the second is read by a later round of the
        # accountant than the first, so the round that fired the first (and
        # any before it, the summary's chance included) has finished
        for model in ("nameless", "nameless-too"):
            st = gw.chat(model)
            seen = wait_until(lambda: any(d.get("model") == model for d in of(hook, "unpriced_model")), 20)
            ok(st == 200 and seen, "fresh ledger: a request for unpriced '%s' raises its alert" % model,
               (st, hook.posts(), gw.log()))
        if utc_day() != day:
            for _ in range(3):
                skip("the UTC day changed during the test: yesterday is now a day the gateway ran in")
            return
        log = gw.log()
        ok(of(hook, "daily_summary") == [], "fresh ledger: no summary of yesterday reaches the webhook",
           of(hook, "daily_summary"))
        ok("spend on" not in log, "fresh ledger: nor the log", log)
        listing = gw.alerts()
        ok("summary|" not in listing and "unpriced|nameless" in listing,
           "fresh ledger: tollctl alerts lists the unpriced models, no summary", listing)
    finally:
        kill(gw.proc)
        hook.stop()


def existed(top, mock_port):
    hook = Receiver()

    def seed(ledger):
        # one record, three days ago: the gateway ran then, and yesterday saw no requests
        subprocess.run([os.path.join(BUILD, "ledgergen"), ledger, "1", "3"], check=True,
                       capture_output=True, timeout=60)

    gw = Gateway(top, "existed", mock_port, hook.port, seed=seed)
    try:
        days = {utc_day(-1)}
        gw.start()
        ok(wait_until(lambda: of(hook, "daily_summary"), 20),
           "a ledger from three days ago: yesterday's summary reaches the webhook", gw.log())
        st = gw.chat("nameless")
        ok(st == 200 and wait_until(lambda: of(hook, "unpriced_model"), 20),
           "and a request for an unpriced model raises its alert", (st, gw.log()))
        days.add(utc_day(-1))
        docs = of(hook, "daily_summary")
        ok(len(docs) == 1 and docs[0].get("day") in days and docs[0].get("requests") == 0 and
           docs[0].get("cost_usd") == 0 and docs[0].get("id") == "summary|" + docs[0].get("day", ""),
           "once, for yesterday: $0 in 0 requests (the gateway ran, nobody asked)", docs)
        log = gw.log()
        day = docs[0].get("day", "?") if docs else "?"
        ok(re.search(r"^tollgated\[accountant \d+\]: alert: tollgate: spend on %s: \$0 in 0 requests$"
                     % re.escape(day), log, re.M) is not None,
           "the summary is logged at info level", log)
        ok("warning: alert: tollgate: spend on" not in log, "not as a warning", log)
        ok(re.search(r"^tollgated\[accountant \d+\]: warning: alert: tollgate: model 'nameless' is unpriced$",
                     log, re.M) is not None, "an unpriced model stays a warning", log)
    finally:
        kill(gw.proc)
        hook.stop()


def main():
    top = tempfile.mkdtemp(prefix="tollgate-summary-")
    mock = None
    try:
        mock = spawn([os.path.join(BUILD, "mockprovider"), "-p", "0", "-q"], stderr=subprocess.PIPE, text=True)
        line = mock.stderr.readline()
        m = re.search(r":(\d+)\s*$", line)
        if ok(m is not None, "the mock provider starts", line):
            fresh(top, int(m.group(1)))
            existed(top, int(m.group(1)))
    finally:
        kill(mock, 5)
        if not os.environ.get("TOLLGATE_KEEP"):
            shutil.rmtree(top, ignore_errors=True)
    done()


if __name__ == "__main__":
    main()

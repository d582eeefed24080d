#!/usr/bin/python3
"""Alerts through every channel against local receivers: a Slack-compatible
webhook, a generic JSON webhook and an SMTP sink.  A team budget crossing
50% and 90% and its soft budget, an unpriced model and a usage anomaly each
arrive once on each channel, and no daily summary of yesterday, a day before
this fresh ledger began (daily-summary.t); an accountant killed and
respawned sends none again; a channel that refuses shows its retries in
`tollctl alerts`."""
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, Receiver, dead_port, done, ok, wait_until  # noqa: E402

PRICEY = """\
pricey:
  input_cost_per_token: 0.000001
  output_cost_per_token: 0.001
"""
BODY = {"model": "pricey", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}],
        "mock": {"prompt_tokens": 10, "completion_tokens": 50, "reasoning_tokens": 0, "cached_tokens": 0}}


class Smtp:
    """A minimal SMTP sink: enough of RFC 5321 for libcurl."""

    def __init__(self):
        self.mails = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink ESMTP\r\n")
                rcpt, data = [], None
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode(errors="replace").strip()
                    up = cmd.upper()
                    if data is not None:
                        if cmd == ".":
                            outer.mails.append((rcpt, "\n".join(data)))
                            rcpt, data = [], None
                            self.wfile.write(b"250 queued\r\n")
                        else:
                            data.append(cmd)
                    elif up.startswith("EHLO") or up.startswith("HELO"):
                        self.wfile.write(b"250 sink\r\n")
                    elif up.startswith("MAIL FROM"):
                        self.wfile.write(b"250 ok\r\n")
                    elif up.startswith("RCPT TO"):
                        rcpt.append(cmd[8:].strip())
                        self.wfile.write(b"250 ok\r\n")
                    elif up == "DATA":
                        data = []
                        self.wfile.write(b"354 go on\r\n")
                    elif up == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def config(hooks, smtp, dead):
    return """\
  budgets:
    - {scope: team, name: ops, max_budget: 0.21, soft_budget: 0.10, budget_duration: 1mo}
  alerts:
    thresholds: [50, 90]
    channels:
      - {type: slack, url: "http://127.0.0.1:%d/slack"}
      - {type: webhook, url: "http://127.0.0.1:%d/hook"}
      - {type: email, url: "smtp://127.0.0.1:%d", from: tollgate@example.com, to: [ops@example.com, cfo@example.com]}
      - {type: webhook, url: "http://127.0.0.1:%d/refused"}
""" % (hooks.port, hooks.port, smtp.port, dead)


MODELS = """\
  - model_name: pricey
    litellm_params:
      <<: *mock
      model: openai/pricey
  - model_name: nameless
    litellm_params:
      <<: *mock
      model: openai/no-such-price
"""


def kinds(docs):
    return sorted(d["type"] for d in docs)


def main():
    hooks, smtp, mock = Receiver(), Smtp(), Mock()
    dead = dead_port()

    def add_prices(gw):
        with open(os.path.join(gw.dir, "prices.yaml"), "a") as f:
            f.write(PRICEY)

    def hook_docs():
        return [json.loads(b) for _, b in hooks.posts("/hook")]

    def slack_docs():
        return [json.loads(b) for _, b in hooks.posts("/slack")]

    gw = Gateway(mock, extra=MODELS, tollgate_extra=config(hooks, smtp, dead), prepare=add_prices)
    try:
        st, _, body = gw.post("/key/generate", {"team_id": "ops", "key_alias": "ops-ci"})
        key = json.loads(body)["key"]
        codes = [gw.post("/v1/chat/completions", BODY, key=key)[0] for _ in range(4)]
        ok(codes == [200] * 4, "four $0.05 requests on the ops team", codes)
        gw.post("/v1/chat/completions", dict(BODY, model="nameless"), key=key)
        gw.post("/v1/chat/completions", dict(BODY, model="nameless"), key=key)
        anomalous = dict(BODY, mock={"prompt_tokens": 10, "cached_tokens": 40, "completion_tokens": 5,
                                      "reasoning_tokens": 0})
        st = gw.post("/v1/chat/completions", anomalous)[0]	# the master key: the team's budget is spent
        ok(st == 200, "a response whose usage claims more cached tokens than prompt tokens", st)

        want = ["budget_threshold", "budget_threshold", "soft_budget", "unpriced_model", "usage_anomaly"]
        ok(wait_until(lambda: kinds(hook_docs()) == want, 20),
           "the webhook gets 50%, 90%, the soft budget, the unpriced model, the anomaly, no summary",
           kinds(hook_docs()))
        hook = {d["id"]: d for d in hook_docs()}
        b90 = [d for d in hook.values() if d["type"] == "budget_threshold" and d["threshold_percent"] == 90]
        ok(b90 and b90[0]["scope"] == "team" and b90[0]["name"] == "ops" and "0.21" in b90[0]["subject"],
           "the budget alert names the team, the threshold and the limit", b90)
        unpriced = [d for d in hook.values() if d["type"] == "unpriced_model"]
        ok(unpriced and unpriced[0]["model"] == "nameless", "the unpriced alert names the model", unpriced)
        anomaly = [d for d in hook.values() if d["type"] == "usage_anomaly"]
        ok(anomaly and anomaly[0]["flag"] == "cache_exceeds_prompt", "the anomaly alert names the flag", anomaly)
        ok(wait_until(lambda: len(slack_docs()) == 5, 10) and
           all("text" in d for d in slack_docs()), "Slack gets the same five, as {text: ...}",
           len(slack_docs()))
        ok(wait_until(lambda: len(smtp.mails) == 5, 20), "the SMTP sink gets five mails", len(smtp.mails))
        ok(smtp.mails and all(sorted(r) == ["<cfo@example.com>", "<ops@example.com>"] for r, _ in smtp.mails),
           "each to both recipients", [r for r, _ in smtp.mails][:1])
        ok(any("Subject: tollgate: budget of team ops at 90%" in m for _, m in smtp.mails),
           "with the alert as the subject", [m.splitlines()[:6] for _, m in smtp.mails][:1])

        before = (len(hook_docs()), len(slack_docs()), len(smtp.mails))
        acc = gw.children("accountant")
        os.kill(acc[0], signal.SIGKILL)
        ok(wait_until(lambda: gw.children("accountant") and gw.children("accountant") != acc, 10),
           "the accountant is killed and respawned")
        gw.post("/v1/chat/completions", dict(BODY, model="nameless"), key=key)
        time.sleep(3)
        after = (len(hook_docs()), len(slack_docs()), len(smtp.mails))
        ok(after == before, "no alert is sent twice across the restart", (before, after))

        def listing():
            return subprocess.run([os.path.join(BUILD, "tollctl"), "alerts", "--ledger", gw.ledger],
                                  capture_output=True, text=True)

        def refused_lines(out):
            return [l for l in out.stdout.splitlines() if "127.0.0.1:%d" % dead in l]

        def refused_tried():
            lines = refused_lines(listing())
            return lines and all("pending" in l and " 0 attempts" not in l for l in lines)
        wait_until(refused_tried, 15)
        out = listing()
        ok(out.returncode == 0 and "budget|t|ops|" in out.stdout and "summary|" not in out.stdout,
           "tollctl alerts lists the fired alerts, no summary", out.stdout[:400] + out.stderr)
        month = time.strftime("%Y-%m-01T00:00:00Z", time.gmtime())
        ok("budget window of team ops began at %s" % month in out.stdout,
           "and when the team's monthly budget window began (its reset, recorded)", out.stdout[:600])
        refused = refused_lines(out)
        ok(refused and all("pending" in l for l in refused) and "last error:" in out.stdout,
           "and the refused channel's deliveries pending with their last error", refused[:2])
        ok("/slack" not in out.stdout and "/hook" not in out.stdout,
           "channel URLs are shown without their paths (a webhook's path is its secret)")
    finally:
        gw.stop()
        gw.cleanup()
        mock.stop()
        hooks.stop()
        smtp.server.shutdown()
    done()


if __name__ == "__main__":
    main()

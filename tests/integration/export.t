#!/usr/bin/python3
"""The accountant's export and retention against a ledger that already holds
sixty days of records: every changed day is POSTed as JSON to export.url
(through a receiver that fails the first attempts, so the outbox's retries
are what delivers), the documents match `tollctl spend --by day`, raw
records older than ledger.retention are pruned only after that, and the day
aggregates of pruned days still answer `tollctl spend`."""
import calendar
import json
import os
import subprocess
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, Receiver, done, ok, wait_until  # noqa: E402

TOLLCTL = os.path.join(BUILD, "tollctl")
DAYS = 60
RETENTION_DAYS = 30


def latest_by_day(recv):
    """The last document received for each day."""
    out = {}
    for ctype, body in recv.posts():
        doc = json.loads(body, parse_float=Decimal)
        out[doc["day"]] = (ctype, doc)
    return out


def spend_by_day(ledger):
    out = subprocess.run([TOLLCTL, "spend", "--by", "day", "--since", "%dd" % (DAYS + 5), "--format", "json",
                          "--ledger", ledger], capture_output=True, text=True)
    rows = [json.loads(l, parse_float=Decimal) for l in out.stdout.splitlines()]
    return {r["day"]: (r["requests"], Decimal(r["cost_usd"])) for r in rows}


def raw_ends(ledger):
    out = subprocess.run([TOLLCTL, "export", "--since", "%dd" % (DAYS + 5), "--until", "2100-01-01",
                          "--format", "jsonl", "--ledger", ledger], capture_output=True, text=True)
    return [json.loads(l)["end"] for l in out.stdout.splitlines()]


def main():
    recv = Receiver(fail=2)
    mock = Mock()
    baseline = {}

    def prepare(gw):
        subprocess.run([os.path.join(BUILD, "ledgergen"), gw.ledger, "3000", str(DAYS)], check=True,
                       capture_output=True)
        subprocess.run([TOLLCTL, "aggregate", "--rebuild", "--ledger", gw.ledger], check=True,
                       capture_output=True)
        baseline.update(spend_by_day(gw.ledger))

    gw = Gateway(mock, prepare=prepare, tollgate_extra="  export:\n    url: http://127.0.0.1:%d/spend\n"
                 "    interval: 1s\n  ledger:\n    retention: %dd\n" % (recv.port, RETENTION_DAYS))
    try:
        ok(len(baseline) >= DAYS, "the generated ledger spans %d days" % DAYS, len(baseline))
        ok(wait_until(lambda: set(latest_by_day(recv)) >= set(baseline), 30),
           "every day is POSTed to export.url", sorted(set(baseline) - set(latest_by_day(recv))))
        ok(recv.failed == 2, "after the receiver refused the first two attempts")
        docs = latest_by_day(recv)
        wrong = []
        for day, (requests, cost) in baseline.items():
            ctype, doc = docs.get(day, (None, {"rows": []}))
            got = (sum(r["requests"] for r in doc["rows"]), sum(Decimal(r["cost_usd"]) for r in doc["rows"]))
            if got != (requests, cost) or ctype != "application/json":
                wrong.append((day, got, (requests, cost), ctype))
        ok(not wrong, "each day's document matches tollctl spend (requests, exact cost)", wrong[:3])
        ok(all(d["object"] == "tollgate.spend.day" and d["host"] for _, d in docs.values()),
           "documents name themselves and the host")

        cut = time.strftime("%Y-%m-%d", time.gmtime(
            (int(time.time()) // 86400 - RETENTION_DAYS) * 86400))

        def pruned():
            ends = raw_ends(gw.ledger)
            return ends and min(ends)[:10] >= cut
        ok(wait_until(pruned, 30), "raw records before %s are pruned" % cut, min(raw_ends(gw.ledger) or ["-"]))
        ok(any(e[:10] == cut for e in raw_ends(gw.ledger)), "the day of the cut is kept whole")
        ok(wait_until(lambda: "pruned" in gw.logtext(), 10), "the accountant logs what it pruned")
        st = subprocess.run([TOLLCTL, "stat", "--ledger", gw.ledger], capture_output=True, text=True).stdout
        ok("pruned before     %sT00:00:00" % cut in st, "tollctl stat shows the pruning horizon", st)
        after = spend_by_day(gw.ledger)
        ok(after == baseline, "tollctl spend by day is unchanged for pruned days",
           [(d, baseline[d], after.get(d)) for d in baseline if after.get(d) != baseline[d]][:3])
        r = subprocess.run([TOLLCTL, "aggregate", "--rebuild", "--ledger", gw.ledger], capture_output=True, text=True)
        ok(r.returncode == 0 and spend_by_day(gw.ledger) == baseline,
           "a rebuild after pruning keeps the pruned days' aggregates", r.stderr)
    finally:
        gw.stop()
        gw.cleanup()
        mock.stop()
        recv.stop()
    done()


if __name__ == "__main__":
    main()

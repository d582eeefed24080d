#!/usr/bin/env python3
"""make torture: tollgated under faults, each scenario with a concurrent client load.

Every scenario starts its own mock provider and tollgated on loopback ports
(tests/integration/tg.py), runs a load of concurrent clients that keep their
own log (request id, status, whether the answer arrived whole, the cost it
stated), does harm to the gateway, the provider or the connections, and then
holds the ledger to the client log: every response received complete has
exactly one record, no record is duplicated, count and sum of cost match.

    tests/torture/run.py [--seconds N] [--only a,b] [--long] [--soak] [--soak-minutes M]

prints one table (scenario, requests, failures, records lost, records
duplicated, peak RSS, verdict) and exits 1 when any verdict is FAIL.
TORTURE_LONG=1 (or --long) makes the kill loop 5 minutes and the reload loop 1
minute; --soak (or TORTURE_SOAK=1) adds the 30-minute soak.  Standard library only.
"""
import argparse
import collections
import decimal
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import tg  # noqa: E402

D = decimal.Decimal
TOLLCTL = os.path.join(tg.BUILD, "tollctl")
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"


# ---- one client request, as the client saw it ------------------------------

class Outcome:
    __slots__ = ("kind", "status", "id", "cost", "complete", "error", "latency", "t")

    def __init__(self, kind):
        self.kind, self.status, self.id, self.cost = kind, 0, None, None
        self.complete, self.error, self.latency, self.t = False, None, 0.0, time.time()


COST_COMMENT = re.compile(rb"^: tollgate-cost ([0-9.]+)\r?$", re.M)


def call(port, model="demo", path=CHAT, stream=False, mock=None, key=tg.MASTER_KEY, timeout=30,
         extra=None):
    """One POST on a new connection; the Outcome says what arrived.  A
    response is complete when its body arrived whole (Content-Length or the
    last chunk) and, for a stream, its end marker came too."""
    body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    if mock:
        body["mock"] = mock
    if extra:
        body.update(extra)
    o = Outcome("%s%s %s" % (model, " stream" if stream else "", path))
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, json.dumps(body),
                  {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = c.getresponse()
        o.status = r.status
        o.id = r.getheader("x-tollgate-request-id")
        data = r.read()
        if stream and r.status == 200:
            m = COST_COMMENT.findall(data)
            o.cost = D(m[-1].decode()) if m else None
            o.complete = b"data: [DONE]" in data or b"event: message_stop" in data
        else:
            h = r.getheader("x-tollgate-response-cost")
            o.cost = D(h) if h is not None else None
            o.complete = True
    except (OSError, http.client.HTTPException) as e:
        o.error = type(e).__name__
    finally:
        c.close()
    o.latency = time.monotonic() - t0
    return o


# ---- the load -----------------------------------------------------------------

# Complete responses a load must have had, per client, for its accounting to
# say anything: a client does dozens a second, so this is no measure of speed.
MIN_COMPLETE_PER_CLIENT = 10

MIX = [
    dict(model="demo"),
    dict(model="demo", stream=True),
    dict(model="claude", path=MESSAGES),
    dict(model="claude", path=MESSAGES, stream=True),
]


class Load:
    """clients threads, each sending one request after another from mix, on
    a new connection each (a request is never caught by a keep-alive close);
    delay_ms: the mock's latency per answer, so that requests are in flight
    when harm is done."""

    def __init__(self, port, clients=8, mix=None, delay_ms=(0, 20), chunks=5, seed=1, rate=0):
        self.port, self.clients, self.mix = port, clients, mix or MIX
        self.period = clients / rate if rate else 0     # each client's pace, for a steady total rate
        self.delay_ms, self.chunks = delay_ms, chunks
        self.log, self.lock = [], threading.Lock()
        self.stopping = threading.Event()
        self.rng = random.Random(seed)
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True)
                        for i in range(clients)]
        self.min_complete = clients * MIN_COMPLETE_PER_CLIENT

    def client(self, i):
        rng = random.Random(self.rng.random() + i)
        due = time.monotonic() + rng.random() * self.period
        while not self.stopping.is_set():
            if self.period:
                self.stopping.wait(max(0, due - time.monotonic()))
                due += self.period
            kind = rng.choice(self.mix)
            mock = {"latency_ms": rng.randint(*self.delay_ms), "chunks": self.chunks}
            if kind.get("stream"):
                mock["chunk_delay_ms"] = 1
            o = call(self.port, mock=mock, timeout=30, **kind)
            with self.lock:
                self.log.append(o)
            if o.error:
                time.sleep(0.05)    # the gateway is down: do not spin

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)
        return self.log


# ---- processes: RSS, fds ------------------------------------------------------

def proc_status(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def ppid(pid):
    return proc_status(pid, "PPid")


def tollgate_procs(master_pid):
    """{pid: role} of the master and its living children (not the dead ones
    it has yet to reap)."""
    out = {master_pid: "master"}
    for d in os.listdir("/proc"):
        if d.isdigit() and ppid(int(d)) == master_pid and proc_state(int(d)) not in (None, "Z"):
            name = comm(int(d)) or ""
            if name.startswith("tg-"):
                out[int(d)] = name[3:]
    return out


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


class Sampler:
    """Samples the RSS (KiB) of every tollgated process every period: the
    peak of their sum, and per process a series for the soak's slopes."""

    def __init__(self, gw, period=0.25):
        self.gw, self.period = gw, period
        self.peak_kib = 0
        self.peak_role = collections.Counter()           # role -> peak of its processes' sum
        self.series = collections.defaultdict(list)    # (role, pid) -> [(t, anonymous KiB)]
        self.fds = collections.defaultdict(list)       # (role, pid) -> [(t, n)]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stopping.is_set():
            total, now = 0, time.time()
            by_role = collections.Counter()
            for pid, role in tollgate_procs(self.gw.proc.pid).items():
                kib = proc_status(pid, "VmRSS")
                if kib:
                    total += kib
                    by_role[role] += kib
                    # the heap, without the ledger's pages mapped in: what a leak would grow
                    self.series[(role, pid)].append((now, proc_status(pid, "RssAnon") or 0))
                    self.fds[(role, pid)].append((now, fd_count(pid)))
            self.peak_kib = max(self.peak_kib, total)
            for role, kib in by_role.items():
                self.peak_role[role] = max(self.peak_role[role], kib)
            self.stopping.wait(self.period)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(5)


# ---- the gateway ----------------------------------------------------------------

_started = []     # what a scenario started, stopped after it whatever happened


def new_mock(*args):
    m = tg.Mock(*args)
    _started.append(m.stop)
    return m


def start_gateway(mock, extra="", tollgate_extra="", prepare=None):
    gw = tg.Gateway(mock, extra=extra, tollgate_extra=tollgate_extra, prepare=prepare)
    _started.append(lambda: gw.stop(signal.SIGKILL) if gw.proc.poll() is None else None)
    return gw


def stop_started():
    while _started:
        try:
            _started.pop()()
        except Exception:
            pass


def restart(gw, timeout=30):
    """Starts tollgated again on gw's config and ledger (after its master
    died), as often as it takes to come up; the number of starts, or 0."""
    deadline = time.monotonic() + timeout
    starts = 0
    while True:
        starts += 1
        gw.proc = tg.spawn([os.path.join(tg.BUILD, "tollgated"), "-f", "-c", gw.config,
                            "--ledger", gw.ledger, "--run-dir", gw.run_dir],
                           stdout=gw.log, stderr=subprocess.STDOUT)
        if tg.wait_until(lambda: gw.proc.poll() is not None or
                         gw.request("GET", "/health", timeout=2)[0] == 200, 15) \
                and gw.proc.poll() is None:
            return starts
        if gw.proc.poll() is None:
            gw.proc.kill()
            gw.proc.wait()
        if time.monotonic() > deadline:
            return 0
        time.sleep(0.5)


def tollctl(*args):
    return subprocess.run([TOLLCTL] + list(args), capture_output=True, text=True)


def ledger_records(gw):
    out = tollctl("logs", "--ledger", gw.ledger, "--json", "--limit", "100000000")
    if out.returncode != 0:
        raise RuntimeError("tollctl logs: " + out.stderr)
    return [json.loads(l, parse_float=D) for l in out.stdout.splitlines() if l.strip()]


def accountant_lag(gw):
    out = tollctl("stat", "--ledger", gw.ledger, "--run-dir", gw.run_dir)
    m = re.search(r"accountant lag\s+(\d+)", out.stdout)
    return int(m.group(1)) if m else None


def spend_total(ledger):
    out = tollctl("spend", "--ledger", ledger, "--format", "json")
    if out.returncode != 0:
        return None
    j = json.loads(out.stdout, parse_float=D)
    return int(j["requests"]), D(j["cost_usd"])


def mdb_stat_ok(ledger):
    if shutil.which("mdb_stat") is None:
        return None, "mdb_stat is not installed (lmdb-utils)"
    out = subprocess.run(["mdb_stat", "-a", ledger], capture_output=True, text=True)
    return out.returncode == 0, (out.stderr or out.stdout)[-400:]


# ---- what a scenario reports ------------------------------------------------------

class Result:
    def __init__(self, name):
        self.name = name
        self.requests = self.failures = self.lost = self.duplicated = 0
        self.peak_kib = 0
        self.peak_roles = {}
        self.checks = []        # (what, ok, detail)
        self.notes = []
        self.skipped = None     # why the scenario could not run here

    def check(self, cond, what, detail=None):
        self.checks.append((what, bool(cond), detail))
        return cond

    @property
    def ok(self):
        return all(c[1] for c in self.checks)


def account(res, log, records, min_complete, expect_no_failures=False):
    """Holds the ledger to the client log: each complete response with a
    request id has exactly one record, of the cost the client was told.
    What makes that mean something is checked first: there were at least
    min_complete complete responses, and every one stated its cost."""
    by_id = collections.defaultdict(list)
    for r in records:
        by_id[r["id"]].append(r)
    complete = [o for o in log if o.complete and o.id]
    res.check(len(complete) >= min_complete, "at least %d complete responses" % min_complete,
              "%d of %d requests" % (len(complete), len(log)))
    uncosted = [o for o in complete if o.cost is None]
    res.check(not uncosted, "every complete response stated its cost",
              collections.Counter((o.kind, o.status) for o in uncosted).most_common(5))
    res.requests += len(log)
    failures = [o for o in log if not (o.complete and o.status == 200)]
    res.failures += len(failures)
    res.lost += sum(1 for o in complete if not by_id.get(o.id))
    res.duplicated += sum(len(v) - 1 for v in by_id.values() if len(v) > 1)
    client_ids = collections.Counter(o.id for o in complete)
    res.check(all(n == 1 for n in client_ids.values()), "no request id was given to two responses",
              [i for i, n in client_ids.items() if n > 1][:5])
    wrong = [(o.id, o.cost, by_id[o.id][0]["cost_usd"]) for o in complete
             if o.cost is not None and by_id.get(o.id) and D(by_id[o.id][0]["cost_usd"]) != o.cost]
    res.check(not wrong, "each record's cost is the one its client was told", wrong[:5])
    told = sum((o.cost for o in complete if o.cost is not None), D(0))
    recorded = sum((D(by_id[o.id][0]["cost_usd"]) for o in complete
                    if o.cost is not None and by_id.get(o.id)), D(0))
    res.check(told == recorded, "sum of costs told = sum of their records", (told, recorded))
    res.check(res.lost == 0, "every complete response has its record",
              [o.id for o in complete if not by_id.get(o.id)][:5])
    res.check(res.duplicated == 0, "no record is duplicated",
              [i for i, v in by_id.items() if len(v) > 1][:5])
    if expect_no_failures:
        res.check(not failures, "no request failed",
                  collections.Counter((o.kind, o.status, o.error) for o in failures).most_common(5))
    return by_id


def check_aggregates(res, gw, records):
    """After the accountant caught up, its aggregates equal the raw records."""
    caught = tg.wait_until(lambda: accountant_lag(gw) == 0, 60, 0.2)
    res.check(caught, "the accountant caught up", accountant_lag(gw))
    got = spend_total(gw.ledger)
    raw = (len(records), sum((D(r["cost_usd"]) for r in records), D(0)))
    res.check(got == raw, "tollctl spend = the raw records (count, cost)", (got, raw))


def check_closed_ledger(res, gw, records):
    """The ledger opens cleanly (mdb_stat) and a rebuild of its aggregates
    from the raw records (on a copy) changes no total."""
    good, detail = mdb_stat_ok(gw.ledger)
    if good is None:
        res.notes.append(detail)
    else:
        res.check(good, "mdb_stat opens the ledger", detail)
    copy = os.path.join(gw.dir, "ledger-copy")
    shutil.rmtree(copy, ignore_errors=True)
    os.makedirs(copy)
    if subprocess.run(["mdb_copy", gw.ledger, copy], capture_output=True).returncode != 0:
        shutil.copy(os.path.join(gw.ledger, "data.mdb"), copy)
    before = spend_total(copy)
    rb = tollctl("aggregate", "--rebuild", "--ledger", copy)
    after = spend_total(copy)
    raw = (len(records), sum((D(r["cost_usd"]) for r in records), D(0)))
    res.check(rb.returncode == 0 and before == after == raw,
              "aggregates = a rebuild from the raw records = the raw records", (before, after, raw, rb.stderr))


def live_gateway_pids(master_pid):
    return [p for p in tollgate_procs(master_pid) if p != master_pid]


# ---- scenarios ---------------------------------------------------------------------

def scenario_kill(args, target):
    """kill -9 of a random worker, of the accountant, or of the master (then
    tollgated is started again), every interval, under load."""
    res = Result("kill -9 " + target)
    mock = new_mock()
    gw = start_gateway(mock, tollgate_extra="  shutdown_timeout: 5s\n")
    sampler = Sampler(gw).start()
    load = Load(gw.port, clients=args.clients).start()
    rng = random.Random(7)
    end = time.monotonic() + args.kill_seconds
    kills = misses = orphans = 0
    drains, starts = [], []
    interval = args.kill_interval if target != "master" else max(args.kill_interval, 2.5)
    try:
        while time.monotonic() < end:
            time.sleep(interval)
            procs = tollgate_procs(gw.proc.pid)
            if target == "master":
                children = [p for p in procs if p != gw.proc.pid]
                os.kill(gw.proc.pid, signal.SIGKILL)
                gw.proc.wait()
                killed_at = time.monotonic()
                kills += 1
                # documented: children of a dead master get SIGTERM, drain, exit
                gone = tg.wait_until(lambda: not any(comm(p) and comm(p).startswith("tg-")
                                                     for p in children), 15, 0.1)
                drains.append(time.monotonic() - killed_at)
                if not gone:
                    orphans += 1
                    res.notes.append("orphans still running: %r" % [(p, comm(p)) for p in children
                                                                    if comm(p)])
                    for p in children:
                        try:
                            os.kill(p, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                n = restart(gw)
                starts.append(n)
                if not n:
                    res.check(False, "tollgated starts again after its master was killed",
                              gw.logtext()[-1500:])
                    break
            else:
                victims = [p for p, role in procs.items() if role == target]
                if not victims:
                    misses += 1     # its respawn is backing off
                    continue
                os.kill(rng.choice(victims), signal.SIGKILL)
                kills += 1
    finally:
        log = load.stop()
    res.check(kills >= 1, "kills were made", (kills, misses))
    if target != "master":
        # the master saw each of them: they were its children, of that role
        seen = len(re.findall(r"\b%s \d+ \(pid \d+\) killed by signal 9\b" % target, gw.logtext()))
        res.check(seen == kills, "the master logged each of those kills", (kills, seen))
    if target == "master":
        res.check(orphans == 0, "the children of a killed master drain and exit (no orphan keeps running)",
                  orphans)
    healthy = tg.wait_until(lambda: gw.request("GET", "/health", timeout=2)[0] == 200, 20)
    res.check(healthy, "the gateway answers /health after the kills", gw.logtext()[-800:])
    o = call(gw.port)
    res.check(o.complete and o.status == 200, "a request after the kills succeeds", (o.status, o.error))
    log.append(o)
    records = ledger_records(gw)
    account(res, log, records, load.min_complete)
    check_aggregates(res, gw, records)
    # a process killed in a read transaction pins its snapshot until its reader
    # slot is cleared: meanwhile each commit grows the file (by ~30 KiB a record here)
    per_record = os.path.getsize(os.path.join(gw.ledger, "data.mdb")) / max(1, len(records))
    res.check(per_record < 4096, "the ledger file grows by under 4 KiB a record (dead readers "
              "are cleared)", "%.0f bytes a record" % per_record)
    res.notes.append("%d kills in %d s (%d tries found none alive), ledger file %.0f bytes a record"
                     % (kills, args.kill_seconds, misses, per_record))
    if drains:
        res.notes.append("children of the killed master gone after %.1f..%.1f s; tollgated "
                         "started again in %d..%d attempts" % (min(drains), max(drains),
                                                                min(starts), max(starts)))
    return wrap_up(res, gw, sampler, records)


PRICE_TEMPLATE = tg.PRICES.replace("input_cost_per_token: 1.5e-7", "input_cost_per_token: %s")


def scenario_reload(args):
    """SIGHUP every second under load, alternating a valid config (with new
    prices, and every other time a changed config too) and an invalid one:
    no request fails, and every record is priced at its generation's prices."""
    res = Result("SIGHUP reload loop")
    mock = new_mock()
    gw = start_gateway(mock, tollgate_extra="  client_timeout: 30s\n")
    prices_path = os.path.join(gw.dir, "prices.yaml")
    gen_price = {1: D("1.5e-7")}
    with open(gw.config) as f:
        good_config = f.read()
    sampler = Sampler(gw).start()
    load = Load(gw.port, clients=args.clients, delay_ms=(0, 50)).start()
    end = time.monotonic() + args.reload_seconds
    step = valid = invalid = 0

    def outcomes():
        t = gw.logtext()
        return re.findall(r"price table generation (\d+) published|(reload failed)", t)

    try:
        while time.monotonic() < end:
            t0 = time.monotonic()
            seen = len(outcomes())
            step += 1
            if step % 2:
                price = D("1.5e-7") + D(step) * D("1e-9")
                with open(prices_path, "w") as f:
                    f.write(PRICE_TEMPLATE % price)
                cfg = good_config
                if step % 4 == 1:      # a changed config: a new generation of workers
                    cfg = good_config.replace("client_timeout: 30s", "client_timeout: %ds" % (30 + step))
                with open(gw.config, "w") as f:
                    f.write(cfg)
            else:
                price = None
                with open(gw.config, "w") as f:
                    f.write(good_config + "tollgate: {workers: many\n")
            gw.proc.send_signal(signal.SIGHUP)
            if not tg.wait_until(lambda: len(outcomes()) > seen, 30, 0.05):
                res.check(False, "reload %d was answered in the log" % step)
                break
            gen, failed = outcomes()[-1]
            if price is not None:
                res.check(not failed and gen, "valid reload %d published a generation" % step)
                if gen:
                    gen_price[int(gen)] = price
                valid += 1
            else:
                res.check(failed, "invalid reload %d was refused" % step)
                invalid += 1
            time.sleep(max(0, 1 - (time.monotonic() - t0)))
    finally:
        log = load.stop()
    res.check(gw.proc.poll() is None, "the master survived every reload")
    records = ledger_records(gw)
    account(res, log, records, load.min_complete, expect_no_failures=True)
    wrong, unknown = [], 0
    for r in records:
        if r["model_requested"] != "demo" or r["status"] != 200:
            continue
        pin = gen_price.get(int(r["generation"]))
        if pin is None:
            unknown += 1
            continue
        want = D(r["tokens"]["input"]) * pin + D(r["tokens"]["output"]) * D("6e-7")
        if D(r["cost_usd"]) != want:
            wrong.append((r["id"], r["generation"], r["cost_usd"], want))
    res.check(not wrong, "every record is priced at its generation's prices", wrong[:5])
    res.check(unknown == 0, "every record names a generation that was published", unknown)
    gens = collections.Counter(int(r["generation"]) for r in records)
    res.check(len(gens) >= min(3, valid), "records span the generations", dict(gens))
    check_aggregates(res, gw, records)
    res.notes.append("%d valid and %d invalid reloads, %d price generations in the records"
                     % (valid, invalid, len(gens)))
    return wrap_up(res, gw, sampler, records)


def scenario_ledger_full(args):
    """The ledger on a tmpfs of a few MiB, filled under load: what the
    README promises (spilled, or kept in memory and retried; /health 503;
    nothing dropped), no corruption, and recovery once the tmpfs is made
    larger.  Needs root to mount the tmpfs; skipped without."""
    res = Result("ledger disk full")
    if os.geteuid() != 0 or shutil.which("mount") is None:
        res.skipped = "needs root to mount a small tmpfs"
        return res
    mock = new_mock()
    mounted = []

    def prepare(g):
        os.makedirs(g.ledger)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0750" % args.full_size,
                              "tollgate-torture", g.ledger], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("cannot mount a tmpfs: " + out.stderr.strip())
        mounted.append(g.ledger)
        _started.append(lambda: subprocess.run(["umount", "-l", g.ledger], capture_output=True))
    try:
        gw = start_gateway(mock, prepare=prepare)
    except RuntimeError as e:
        if not mounted:
            res.skipped = str(e)
            return res
        raise
    sampler = Sampler(gw).start()
    load = Load(gw.port, clients=args.clients, delay_ms=(0, 0)).start()
    full = re.compile(r"ledger full or unwritable|kept in memory, retrying")
    filled = tg.wait_until(lambda: full.search(gw.logtext()), args.full_seconds, 0.2)
    res.check(filled, "the tmpfs filled up (the log says records are spilled or kept)",
              gw.logtext()[-600:])
    if filled:
        time.sleep(1)
        st, _, body = gw.request("GET", "/health", timeout=5)
        res.check(st == 503, "/health is 503 while the ledger cannot be written",
                  (st, body[:200]))
        res.notes.append("full: " + "; ".join(sorted(set(m.group(0) for m in full.finditer(gw.logtext())))))
    # space returns
    subprocess.run(["mount", "-o", "remount,size=256m", gw.ledger], check=True)
    res.check(tg.wait_until(lambda: gw.request("GET", "/health", timeout=2)[0] == 200, 60),
              "/health is 200 again once there is room")
    time.sleep(1)
    log = load.stop()
    spill = os.path.join(gw.ledger, "spill.msgpack")
    res.check(tg.wait_until(lambda: not os.path.exists(spill) or os.path.getsize(spill) == 0, 60, 0.2),
              "nothing is left to replay in the spill file")
    records = ledger_records(gw)
    by_id = account(res, log, records, load.min_complete, expect_no_failures=True)
    res.notes.append("%d records replayed from the spill file"
                     % sum(1 for v in by_id.values() if "replayed" in v[0]["flags"]))
    check_aggregates(res, gw, records)
    return wrap_up(res, gw, sampler, records)


# (name, what the client asks for, statuses it may get, flags its record must
# carry, whether a 200 stream arrives whole with its end marker)
UPSTREAM_FAULTS = [
    ("connection refused", dict(model="dead"), {502}, {"upstream_failed"}, None),
    ("reset before headers", dict(mock={"fault": "reset"}), {502}, {"upstream_failed"}, None),
    ("reset mid-stream", dict(stream=True, mock={"fault": "reset_mid_stream"}), {200},
     {"stream_incomplete"}, False),
    ("reset mid-body", dict(mock={"fault": "reset_mid_stream"}), {502}, {"upstream_failed"}, None),
    ("headers then silence", dict(model="slow", stream=True, mock={"fault": "silence_mid_stream"}),
     {200}, {"stream_incomplete"}, False),
    ("slow headers", dict(model="slow", mock={"fault": "slow_headers"}), {504}, {"upstream_failed"}, None),
    ("1 event per second", dict(stream=True, mock={"chunks": 3, "chunk_delay_ms": 1000}), {200}, set(),
     True),
    ("malformed JSON", dict(mock={"fault": "malformed"}), {200}, {"usage_missing"}, None),
    ("malformed stream", dict(stream=True, mock={"fault": "malformed"}), {200}, {"usage_missing"}, None),
    ("usage missing", dict(mock={"fault": "no_usage"}), {200}, {"usage_missing"}, None),
    ("usage missing, stream", dict(stream=True, mock={"fault": "no_usage"}), {200}, {"usage_missing"},
     True),
    ("absurd usage", dict(mock={"prompt_tokens": 10**11, "completion_tokens": 10**10}), {200},
     {"absurd_count"}, None),
    ("503 burst", dict(mock={"status": 503}), {503}, {"upstream_error"}, None),
]


def worker_fds(gw):
    return {p: fd_count(p) for p, role in tollgate_procs(gw.proc.pid).items() if role == "worker"}


def check_fds_back(res, gw, before, slack=16):
    """The workers' fds come back to before, give or take curl's cache of
    upstream connections (slack); the counts at the end."""
    now = {}

    def back():
        now.clear()
        now.update(worker_fds(gw))
        return all(now.get(p) is not None and now[p] <= before[p] + slack for p in before)
    res.check(tg.wait_until(back, 15, 0.2), "the workers' fds come back (within %d)" % slack,
              (before, now))
    return now


def scenario_upstream(args):
    """Each provider fault, several at once, beside the normal load: the
    client gets the right error or the partial stream, the record is
    flagged, and the workers' fds and memory come back."""
    res = Result("upstream faults")
    mock = new_mock()
    gw = start_gateway(mock)
    sampler = Sampler(gw).start()
    load = Load(gw.port, clients=max(2, args.clients // 2)).start()
    time.sleep(1)
    fds_before = worker_fds(gw)
    rss_before = {p: proc_status(p, "VmRSS") for p in fds_before}
    got = []
    threads = []
    lock = threading.Lock()

    def one(name, kind, statuses, flags, whole):
        for _ in range(args.fault_repeats):
            o = call(gw.port, timeout=20, **kind)
            with lock:
                got.append((name, statuses, flags, whole, o))
    for fault in UPSTREAM_FAULTS:
        t = threading.Thread(target=one, args=fault)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(120)
    time.sleep(1)
    log = load.stop()
    records = ledger_records(gw)
    by_id = {r["id"]: r for r in records}
    for name, statuses, flags, whole, o in got:
        rec = by_id.get(o.id)
        res.check(o.status in statuses, "%s: the client gets %s" % (name, "/".join(map(str, sorted(statuses)))),
                  (o.status, o.error, o.id))
        if whole is not None and o.status == 200:
            res.check(o.complete == whole, "%s: the stream reaches the client %s" % (
                name, "whole" if whole else "cut, without its end marker"), (o.kind, o.error))
        have = set(rec["flags"]) | set(rec["usage_flags"]) if rec else set()
        res.check(rec is not None and flags <= have, "%s: recorded, flagged %s" % (name, ",".join(sorted(flags)) or "nothing"),
                  (o.id, rec and (rec["status"], rec["flags"], rec["usage_flags"])))
    res.requests += len(got)
    res.failures += sum(1 for g in got if g[4].status not in g[1])
    if any(o.status in (502, 504) for _, _, _, _, o in got):
        res.check(all(o.id for _, _, _, _, o in got if o.status in (502, 504)),
                  "502 and 504 answers name their request id", None)
    account(res, log, records, load.min_complete, expect_no_failures=True)
    fds_after = check_fds_back(res, gw, fds_before)
    rss_after = {p: proc_status(p, "VmRSS") for p in fds_before}
    res.notes.append("worker fds %s -> %s, RSS KiB %s -> %s" % (sorted(fds_before.values()),
                     sorted(fds_after.values()), sorted(rss_before.values()), sorted(rss_after.values())))
    return wrap_up(res, gw, sampler, records)


def raw_connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def read_until_closed(s, limit=30):
    """Reads until the server closes; (bytes, closed by the server)."""
    data = b""
    s.settimeout(limit)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data, True
    except socket.timeout:
        return data, False


def chat_request(body=None, extra_headers=""):
    body = body or json.dumps({"model": "demo", "messages": [{"role": "user", "content": "hi"}]})
    return ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
            % (tg.MASTER_KEY, extra_headers, len(body), body)).encode()


def scenario_client(args):
    """Bad clients beside good ones: slowloris headers, a body that never
    ends, a stream read 1 byte a second, many idle connections, pipelined
    requests, a body over the limit.  Timeouts apply, memory stays bounded,
    and the normal load keeps getting 200s."""
    res = Result("client faults")
    mock = new_mock()
    gw = start_gateway(mock, tollgate_extra="  client_timeout: %ds\n" % args.client_timeout)
    sampler = Sampler(gw).start()
    load = Load(gw.port, clients=max(2, args.clients // 2)).start()
    time.sleep(0.5)
    fds_before = worker_fds(gw)
    rss_before = sum(proc_status(p, "VmRSS") or 0 for p in fds_before)
    results = {}

    def slowloris():
        s = raw_connect(gw.port)
        head = chat_request()[:60]
        closed = False
        try:
            for b in head:
                s.send(bytes([b]))
                time.sleep(0.5)
        except OSError:
            closed = True
        data, by_server = read_until_closed(s, args.client_timeout * 4 + 10)
        results["slowloris"] = (closed or by_server, data[:12])
        s.close()

    def endless_body():
        s = raw_connect(gw.port)
        s.send(chat_request()[:-10])
        data, closed = read_until_closed(s, args.client_timeout * 4 + 10)
        results["endless body"] = (closed and data.startswith(b"HTTP/1.1 408"), data[:12])
        s.close()

    def slow_reader():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", gw.port))
        body = json.dumps({"model": "demo", "stream": True, "messages": [],
                           "mock": {"chunks": args.big_stream_chunks}})
        s.send(chat_request(body))
        got = b""
        s.settimeout(args.client_timeout * 4 + 10)
        try:
            while b"\r\n\r\n" not in got:
                b = s.recv(1)
                if not b:
                    break
                got += b
        except OSError:
            pass
        t_end = time.monotonic() + args.slow_read_seconds
        try:
            while time.monotonic() < t_end:
                b = s.recv(1)
                if not b:
                    break
                got += b
                time.sleep(1)
        except OSError:
            pass
        # then it stops reading altogether: the worker must let it go
        local = s.getsockname()[1]

        def let_go():
            return server_side_state(gw.port, local) != "01"
        closed = tg.wait_until(let_go, args.client_timeout * 6 + 20, 0.2)
        time.sleep(1)
        rss_after = sum(proc_status(p, "VmRSS") or 0 for p in fds_before)
        m = re.search(rb"x-tollgate-request-id: (\S+)", got)
        results["slow reader"] = (closed, sampler.peak_role["worker"], rss_after,
                                  m.group(1).decode() if m else None)
        s.close()

    def idle_many():
        socks = []
        try:
            for _ in range(args.idle_connections):
                socks.append(raw_connect(gw.port))
        except OSError as e:
            results["idle error"] = str(e)
        time.sleep(0.5)
        fds_mid = sum(v or 0 for v in worker_fds(gw).values())
        closed = 0
        deadline = time.monotonic() + args.client_timeout * 4 + 15
        for s in socks:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                if s.recv(1) == b"":
                    closed += 1
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except (socket.timeout, OSError):
                pass
            s.close()
        results["idle"] = (len(socks), closed, fds_mid)

    def pipelined():
        s = raw_connect(gw.port)
        s.sendall(chat_request() * 3 + b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data, _ = read_until_closed(s, 30)
        ids = re.findall(rb"x-tollgate-request-id: (\S+)", data)
        results["pipelined"] = (data.count(b"HTTP/1.1 200"), [i.decode() for i in ids])
        s.close()

    def over_limit():
        s = raw_connect(gw.port)
        big = json.dumps({"model": "demo", "messages": [], "pad": "x" * 70000})
        try:
            s.sendall(chat_request(big))
        except OSError:
            pass
        data, _ = read_until_closed(s, 30)
        s.close()
        s = raw_connect(gw.port)
        s.send(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Length: 100000000\r\n\r\n" % tg.MASTER_KEY).encode())
        data2, closed = read_until_closed(s, 30)
        s.close()
        results["over limit"] = (data[:12], data2[:12], closed)

    threads = [threading.Thread(target=f) for f in (slowloris, endless_body, slow_reader, idle_many,
                                                    pipelined, over_limit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    log = load.stop()
    ok, first = results.get("slowloris", (False, None))
    res.check(ok, "slowloris headers: the connection is closed by client_timeout", first)
    ok, first = results.get("endless body", (False, None))
    res.check(ok, "a body that never ends: 408, then closed", first)
    closed, rss_mid, rss_after, rid = results.get("slow reader", (False, 0, 0, None))
    res.check(closed, "a stream reader that stops: let go after client_timeout")
    res.check(rss_mid - rss_before < args.rss_bound_mib * 1024,
              "a stalled reader of a %d-event stream costs the workers under %d MiB"
              % (args.big_stream_chunks, args.rss_bound_mib), (rss_before, rss_mid))
    res.check(rss_after - rss_before < 8 * 1024,
              "and the workers give that memory back once it is let go", (rss_before, rss_after))
    n, closed, fds_mid = results.get("idle", (0, 0, 0))
    res.check(n == args.idle_connections and closed == n,
              "%d idle connections accepted, then closed by client_timeout" % args.idle_connections,
              (n, closed, results.get("idle error")))
    n200, ids = results.get("pipelined", (0, []))
    res.check(n200 == 4 and len(ids) == 3, "pipelined requests answered in order", (n200, ids))
    first, second, closed = results.get("over limit", (b"", b"", False))
    res.check(first.startswith(b"HTTP/1.1 413") and second.startswith(b"HTTP/1.1 413") and closed,
              "over max_body_bytes: 413 (announced far over: 413 and closed)", (first, second, closed))
    records = ledger_records(gw)
    by_id = {r["id"]: r for r in records}
    res.check(all(i in by_id for i in ids), "the pipelined requests are recorded", ids)
    res.check(rid and rid in by_id, "the stalled reader's request is recorded (the provider billed it)", rid)
    res.requests += 6 + n
    account(res, log, records, load.min_complete, expect_no_failures=True)
    fds_after = check_fds_back(res, gw, fds_before)
    res.notes.append("worker fds %s, %d with the idle connections, %s after; worker RSS %d KiB, "
                     "%d KiB at most with a stalled stream reader, %d KiB after" % (
                         sorted(fds_before.values()), fds_mid, sorted(fds_after.values()),
                         rss_before, rss_mid, rss_after))
    return wrap_up(res, gw, sampler, records)


def server_side_state(port, peer_port):
    """The TCP state (hex, as in /proc/net/tcp: "01" established) of the
    server's end of the connection from peer_port to port; None once gone."""
    want_local, want_peer = ":%04X" % port, ":%04X" % peer_port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(want_local) and fields[2].endswith(want_peer):
                return fields[3]
    return None


def scenario_soak(args):
    """Steady mixed load for soak_minutes with a reload and a key change
    every 30 s: RSS slope per process after warm-up, fds, p99 per minute,
    records = requests."""
    res = Result("soak %d min" % args.soak_minutes)
    mock = new_mock()
    gw = start_gateway(mock)
    sampler = Sampler(gw, period=5).start()
    load = Load(gw.port, clients=args.clients, delay_ms=(0, 10), rate=args.soak_rate).start()
    end = time.monotonic() + args.soak_minutes * 60
    keys, made, deleted, reloads = [], 0, 0, 0
    while time.monotonic() < end:
        time.sleep(min(30, max(0, end - time.monotonic())))
        st, _, body = gw.post("/key/generate", {"key_alias": "soak-%d" % made})
        if st == 200:
            keys.append(json.loads(body)["key"])
            made += 1
        if len(keys) > 3 and gw.post("/key/delete", {"keys": [keys.pop(0)]})[0] == 200:
            deleted += 1
        gw.proc.send_signal(signal.SIGHUP)
        reloads += 1
    res.notes.append("%d reloads, %d keys made, %d deleted" % (reloads, made, deleted))
    res.check(made >= reloads and deleted >= reloads - 3, "keys made and deleted under load",
              (reloads, made, deleted))
    log = load.stop()
    records = ledger_records(gw)
    account(res, log, records, load.min_complete, expect_no_failures=True)
    res.check(len(records) == len(log), "records = requests", (len(records), len(log)))
    t0 = min(o.t for o in log)
    per_min = collections.defaultdict(list)
    for o in log:
        per_min[int((o.t - t0) // 60)].append(o.latency)
    p99 = [sorted(v)[int(len(v) * 0.99) - 1] * 1000 for _, v in sorted(per_min.items()) if v]
    res.notes.append("p99 per minute (ms): " + " ".join("%.0f" % x for x in p99))
    warm = time.time() - (args.soak_minutes * 60) * 0.8
    for (role, pid), series in sorted(sampler.series.items()):
        pts = [(t, k) for t, k in series if t >= warm]
        if len(pts) < 3:
            continue
        slope = linear_slope(pts) * 3600 / 1024
        fds = [n for t, n in sampler.fds[(role, pid)] if t >= warm and n is not None]
        res.notes.append("%s %d: anonymous RSS %d -> %d KiB, slope %.2f MiB/h; fds %d..%d"
                         % (role, pid, pts[0][1], pts[-1][1], slope, min(fds), max(fds)))
        early = fds[:len(fds) // 5 + 1]
        res.check(fds[-1] <= max(early) + 16, "%s %d: no fd growth after warm-up" % (role, pid),
                  (max(early), fds[-1]))
        if role != "master" and pts[-1][0] - pts[0][0] > 300:
            res.check(slope < args.soak_max_slope, "%s %d: anonymous RSS slope under %.0f MiB/h after warm-up"
                      % (role, pid, args.soak_max_slope), slope)
    check_aggregates(res, gw, records)
    return wrap_up(res, gw, sampler, records)


def linear_slope(pts):
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mk = sum(k for _, k in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    return sum((t - mt) * (k - mk) for t, k in pts) / var if var else 0.0


def wrap_up(res, gw, sampler, records):
    """Stops tollgated, checks the ledger it leaves, keeps its directory
    when something failed; returns res."""
    sampler.stop()
    res.peak_kib = sampler.peak_kib
    res.peak_roles = dict(sampler.peak_role)
    gw.stop()
    check_closed_ledger(res, gw, records)
    if res.ok:
        gw.cleanup()
    else:
        res.notes.append("kept for reading: " + gw.dir)
    return res


# ---- the runner ------------------------------------------------------------------

SCENARIOS = collections.OrderedDict([
    ("kill-worker", lambda a: scenario_kill(a, "worker")),
    ("kill-accountant", lambda a: scenario_kill(a, "accountant")),
    ("kill-master", lambda a: scenario_kill(a, "master")),
    ("reload", scenario_reload),
    ("ledger-full", scenario_ledger_full),
    ("upstream", scenario_upstream),
    ("client", scenario_client),
    ("soak", scenario_soak),
])


def parse_args(argv=None):
    env_long = os.environ.get("TORTURE_LONG") not in (None, "", "0")
    env_soak = os.environ.get("TORTURE_SOAK") not in (None, "", "0")
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    p.add_argument("--long", action="store_true", default=env_long,
                   help="the issue's durations: 5-minute kill loops, 1-minute reload loop")
    p.add_argument("--soak", action="store_true", default=env_soak, help="add the soak")
    p.add_argument("--soak-minutes", type=int, default=30)
    p.add_argument("--soak-max-slope", type=float, default=8.0, help="MiB/h allowed after warm-up")
    p.add_argument("--soak-rate", type=float, default=50, help="requests per second of the soak")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--kill-seconds", type=int, default=None)
    p.add_argument("--kill-interval", type=float, default=1.0)
    p.add_argument("--reload-seconds", type=int, default=None)
    p.add_argument("--full-size", default="1m", help="size of the ledger-full run's tmpfs")
    p.add_argument("--full-seconds", type=int, default=120, help="how long the map may take to fill")
    p.add_argument("--fault-repeats", type=int, default=3)
    p.add_argument("--client-timeout", type=int, default=2)
    p.add_argument("--slow-read-seconds", type=int, default=5)
    p.add_argument("--big-stream-chunks", type=int, default=100000)
    p.add_argument("--rss-bound-mib", type=int, default=16)  # a stalled stream is paused upstream: no whole stream held
    p.add_argument("--idle-connections", type=int, default=2000)
    p.add_argument("--tap", action="store_true", help="print every check as TAP (for prove)")
    a = p.parse_args(argv)
    # the idle connections take an fd each here and in tollgated (which inherits the limit)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.idle_connections + 256
    if soft < want:
        soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if a.idle_connections + 256 > soft:
        print("torture: ulimit -n is %d: %d idle connections instead of %d"
              % (soft, soft - 256, a.idle_connections), file=sys.stderr)
        a.idle_connections = max(0, soft - 256)
    if a.kill_seconds is None:
        a.kill_seconds = 300 if a.long else 20
    if a.reload_seconds is None:
        a.reload_seconds = 60 if a.long else 15
    return a


def table(results):
    head = ("scenario", "requests", "failures", "lost", "duplicated", "peak RSS", "verdict")
    rows = [(r.name, str(r.requests), str(r.failures), str(r.lost), str(r.duplicated),
             "%.1f MiB" % (r.peak_kib / 1024), "SKIP" if r.skipped else "PASS" if r.ok else "FAIL") for r in results]
    w = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(cells)) + " |"
    out = [line(head), "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main(argv=None):
    a = parse_args(argv)
    names = a.only.split(",") if a.only else [n for n in SCENARIOS if n != "soak" or a.soak]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        sys.exit("torture: unknown scenario %s (known: %s)" % (", ".join(unknown), ", ".join(SCENARIOS)))
    for tool in ("tollgated", "tollctl", "mockprovider"):
        if not os.path.exists(os.path.join(tg.BUILD, tool)):
            sys.exit("torture: %s is not built (run make)" % os.path.join(tg.BUILD, tool))
    results, n = [], 0
    started = time.time()
    for name in names:
        t0 = time.monotonic()
        print("%storture: %s ..." % ("# " if a.tap else "", name), file=sys.stdout if a.tap else sys.stderr,
              flush=True)
        try:
            res = SCENARIOS[name](a)
        except Exception as e:      # a scenario that breaks is a failed verdict, not a stack trace
            res = Result(name)
            res.check(False, "the scenario ran", "%s: %s" % (type(e).__name__, e))
        stop_started()
        if res.peak_roles:
            res.notes.append("peak RSS by role (MiB, each role's processes summed): " + ", ".join(
                "%s %.1f" % (role, kib / 1024) for role, kib in sorted(res.peak_roles.items())))
        res.notes.append("%.0f s" % (time.monotonic() - t0))
        results.append(res)
        for what, good, detail in res.checks:
            if a.tap:
                n += 1
                print("%s %d - %s: %s" % ("ok" if good else "not ok", n, res.name, what), flush=True)
            if not good:
                if not a.tap:
                    print("# FAILED %s: %s" % (res.name, what), flush=True)
                for l in str(detail if detail is not None else "").splitlines()[:10]:
                    print("#   " + l, flush=True)
        if res.skipped:
            res.notes.append("skipped: " + res.skipped)
            if a.tap:
                n += 1
                print("ok %d # skip %s: %s" % (n, res.name, res.skipped), flush=True)
        for note in res.notes:
            print("# %s: %s" % (res.name, note), flush=True)
    if a.tap:
        print("1..%d" % n)
    print(("" if a.tap else "\n") + ("# " if a.tap else "") +
          ("\n# " if a.tap else "\n").join(table(results).splitlines()))
    print("%storture: %s, %.0f s" % ("# " if a.tap else "", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
                                    time.time() - started))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

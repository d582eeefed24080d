#!/usr/bin/python3
"""tollgated under a service manager: readiness, reload and stop told to
systemd through $NOTIFY_SOCKET, the health endpoints, and (when the test runs
as root) the drop from root to tollgate.user once the listener is bound, and
that tollctl status's files are then readable by the user's group only."""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import BUILD, Gateway, Mock, done, eq, ok, skip, wait_until  # noqa: E402

USER = "nobody"
OTHER = "daemon"  # a user outside USER's group, for tollctl status
TOLLCTL = os.path.join(BUILD, "tollctl")


class Notify:
    """The socket systemd would listen on for a Type=notify service."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tollgate-notify-")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "notify")
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(self.path)
        os.chmod(self.path, 0o777)  # the master sends after giving up root
        self.s.settimeout(0.2)
        self.got = []

    def states(self):
        try:
            while True:
                msg = self.s.recv(4096).decode()
                self.got.append([l for l in msg.splitlines() if l and not l.startswith("MONOTONIC_USEC=")])
        except socket.timeout:
            pass
        return [s for m in self.got for s in m]

    def close(self):
        self.s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


def prepare(gw):
    # the user tollgated becomes must read its config and reach its ledger
    os.chmod(gw.dir, 0o755)
    for name in os.listdir(gw.dir):
        os.chmod(os.path.join(gw.dir, name), 0o644)


def main():
    root = os.geteuid() == 0
    mock = Mock()
    notify = Notify()
    os.environ["NOTIFY_SOCKET"] = notify.path
    try:
        gw = Gateway(mock, tollgate_extra="  user: %s\n" % USER if root else "", prepare=prepare)
    finally:
        del os.environ["NOTIFY_SOCKET"]
    try:
        ok(wait_until(lambda: "READY=1" in notify.states(), 10), "READY=1 once the workers run", notify.got)

        st, h, body = gw.request("GET", "/health/liveness", key=None)
        eq((st, json.loads(body).get("status")), (200, "alive"), "GET /health/liveness: 200, alive")
        st, h, body = gw.request("GET", "/health/readiness", key=None)
        r = json.loads(body)
        ok(st == 200 and r.get("ledger") == "ok" and r.get("prices") == "loaded",
           "GET /health/readiness: 200 with the ledger writable and prices loaded", body)

        if root:
            want = pwd.getpwnam(USER).pw_uid
            procs = [gw.proc.pid] + gw.children()
            uids = {p: uid_of(p) for p in procs}
            ok(all(u == [want] * 4 for u in uids.values()),
               "started as root: the master and every child run as %s (real, effective, saved, fs)" % USER, uids)
            ok(os.stat(gw.ledger).st_uid == want, "the ledger directory it made is the user's")
            st, h, _ = gw.post("/v1/chat/completions", {"model": "demo", "messages": []})
            rid = h.get("x-tollgate-request-id")
            ok(st == 200 and gw.record(rid) is not None, "and requests are served and recorded")
            ok("running as user '%s'" % USER in gw.logtext(), "the log says which user it runs as")
            files = [os.path.join(gw.run_dir, f) for f in ("tollgate.status", "tollgate.budgets")]
            ok(all(os.stat(f).st_uid == want and os.stat(f).st_mode & 0o777 == 0o640 for f in files),
               "tollctl status's files are the user's, mode 0640", [oct(os.stat(f).st_mode) for f in files])
            group = pwd.getpwnam(USER).pw_gid
            as_other = dict(user=OTHER, group=pwd.getpwnam(OTHER).pw_gid, extra_groups=[])
            # a copy the other user can run: the build tree may sit in a directory only root enters
            tollctl = os.path.join(gw.dir, "tollctl")
            shutil.copy(TOLLCTL, tollctl)
            os.chmod(tollctl, 0o755)
            r = subprocess.run([tollctl, "status", "--run-dir", gw.run_dir], capture_output=True,
                               text=True, **as_other)
            ok(r.returncode == 1 and "Permission denied" in r.stderr and r.stdout == "",
               "tollctl status as a user outside its group: refused, exit 1", r.stderr)
            as_other["extra_groups"] = [group]
            r = subprocess.run([tollctl, "status", "--run-dir", gw.run_dir], capture_output=True,
                               text=True, **as_other)
            ok(r.returncode == 0 and str(gw.proc.pid) in r.stdout,
               "and as a member of the group it shows the gateway", r.stdout + r.stderr)
        else:
            # one skip for each check above, so that the plan is the same either way
            for what in ("the master and every child run as the user", "the ledger directory is the user's",
                         "requests are served and recorded", "the log says which user",
                         "tollctl status's files are the user's", "tollctl status outside the group",
                         "tollctl status in the group"):
                skip("not root: %s" % what)

        before = len(notify.states())
        gw.proc.send_signal(signal.SIGHUP)
        ok(wait_until(lambda: notify.states()[before:] == ["RELOADING=1", "READY=1"], 10),
           "SIGHUP: RELOADING=1, then READY=1", notify.got)
        rc = gw.stop(signal.SIGTERM)
        eq(rc, 0, "SIGTERM: exit 0")
        ok("STOPPING=1" in notify.states(), "after STOPPING=1", notify.got)
    finally:
        gw.stop(signal.SIGKILL)
        gw.cleanup()
        notify.close()
        mock.stop()
    done()


if __name__ == "__main__":
    main()

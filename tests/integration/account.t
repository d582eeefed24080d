#!/usr/bin/python3
"""The tests and the gateway on a machine where the packaged account
'tollgate' exists (issue 14): as root, the integration tests still pass, because
they pin tollgate.user to whoever runs them; and a gateway told to become
'tollgate' does so, with every process as that user and its requests recorded.
Run as root, this creates a throwaway 'tollgate' account when there is none and
removes it after, on every way out; not as root there is nothing to drop to."""
import atexit
import os
import pwd
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Gateway, Mock, done, eq, ok, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "tollgate"


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def ensure_account():
    """The account's uid, and whether this test made it (and must remove it)."""
    try:
        return pwd.getpwnam(ACCOUNT).pw_uid, False
    except KeyError:
        pass
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", "--user-group", ACCOUNT],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, r.stderr.strip()
    atexit.register(remove_account)
    return pwd.getpwnam(ACCOUNT).pw_uid, True


def remove_account():
    subprocess.run(["userdel", ACCOUNT], capture_output=True, timeout=60)


def suite_with_account():
    """auth.t, untouched, with the account present: it must pass as it does without."""
    try:
        r = subprocess.run([os.path.join(HERE, "auth.t")], capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        ok(False, "auth.t with the account present finishes", (e.stdout or b"")[-2000:])
        return
    failed = [line for line in r.stdout.splitlines() if line.startswith("not ok")]
    ok(r.returncode == 0 and not failed and "\n1.." in "\n" + r.stdout,
       "auth.t passes with the account '%s' present (the tests pin tollgate.user)" % ACCOUNT,
       "\n".join(failed[:10]) + "\n" + r.stderr[-2000:])


def drops_to_account(uid):
    mock = Mock()

    def open_up(gw):
        # the user reads the config and the prices and creates its directories here
        os.chmod(gw.dir, 0o755)

    gw = Gateway(mock, tollgate_extra="  user: %s\n" % ACCOUNT, prepare=open_up)
    try:
        ok("running as user '%s'" % ACCOUNT in gw.logtext(), "told tollgate.user: tollgate, the master says it became it",
           gw.logtext())
        eq(uid_of(gw.proc.pid), uid, "the master runs as the account")
        kids = []
        wait_until(lambda: len(children(gw.proc.pid)) >= 2, 10)
        kids = children(gw.proc.pid)
        ok(len(kids) >= 2 and all(uid_of(k) == uid for k in kids),
           "so do its worker and its accountant", "children %r, uids %r" % (kids, [uid_of(k) for k in kids]))
        eq(os.stat(gw.ledger).st_uid, uid, "the ledger directory is the account's")
        st, _, _ = gw.post("/v1/chat/completions", {"model": "demo", "messages": [{"role": "user", "content": "hi"}]})
        eq(st, 200, "a request is served")
        ok(wait_until(lambda: len(gw.records()) == 1, 10), "and recorded in the ledger")
        eq(gw.stop(), 0, "and the gateway stops cleanly")
    finally:
        gw.stop()
        mock.stop()
        shutil.rmtree(gw.dir, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP not root: no account to drop to")
        return
    if shutil.which("useradd") is None and not os.path.exists("/usr/sbin/useradd"):
        print("1..0 # SKIP useradd absent")
        return
    uid, made = ensure_account()
    if uid is None:
        ok(False, "a throwaway account '%s' can be created" % ACCOUNT, made)
        done()
    suite_with_account()
    drops_to_account(uid)
    done()


main()

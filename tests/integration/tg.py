"""Helpers for tollgate's integration tests: real tollgated and mockprovider
processes on loopback ports, TAP output for prove, stdlib only.

Nothing a test starts outlives it: every process comes from spawn(), in a
process group of its own that is killed on every way out (a normal end, an
exception, SIGTERM/SIGINT/SIGHUP, the file's time bound), and that dies with
the test even when the test is SIGKILLed (PR_SET_PDEATHSIG). A file that
runs longer than TOLLGATE_TEST_TIMEOUT seconds fails instead of hanging."""
import atexit
import ctypes
import http.client
import json
import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("TOLLGATE_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("TOLLGATE_BUILD") or os.path.join(SRC, "build")
MASTER_KEY = "sk-test-master"
USER_KEY = "sk-test-user"

_n = 0
_failed = 0
_procs = []		# what spawn() started, killed by _reap()
_dirs = []		# gateways' scratch directories, removed by _reap() unless TOLLGATE_KEEP
_dead = []		# sockets held bound so that their ports refuse connections
_adopted = []		# pids of daemons that left spawn()'s groups, killed by _reap()
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
# a test file's bound; a file that needs longer calls bound(seconds) itself
TIMEOUT = int(os.environ.get("TOLLGATE_TEST_TIMEOUT") or 300)


def ok(cond, what, detail=None):
    global _n, _failed
    _n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (_n, what), flush=True)
    if not cond:
        _failed += 1
        if detail is not None:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line, flush=True)
    return cond


def eq(got, want, what):
    return ok(got == want, what, "got:  %r\nwant: %r" % (got, want))


def skip(why):
    global _n
    _n += 1
    print("ok %d # skip %s" % (_n, why), flush=True)


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


def done():
    print("1..%d" % _n, flush=True)
    sys.exit(1 if _failed else 0)


def sse(data):
    """(event name, parsed data or text) of each event of a stream."""
    out = []
    for block in data.decode().replace("\r\n", "\n").split("\n\n"):
        name, lines = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].lstrip())
        if not lines:
            continue
        text = "\n".join(lines)
        try:
            out.append((name, json.loads(text)))
        except ValueError:
            out.append((name, text))
    return out


def free_port():
    """A port nothing listens on now, which another process may take before the
    caller binds it. Only for what tollgated cannot be asked to bind to port 0
    (metrics_listen, where 0 means off); servers bind port 0 and say their port,
    and a port that must refuse connections comes from dead_port()."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dead_port():
    """A loopback port that refuses connections for as long as the test runs:
    bound here, never listened on, so nothing else can take it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _dead.append(s)
    return s.getsockname()[1]


def user_name():
    """Who runs the test: pinned as tollgate.user so that a root test run does
    not become the packaged 'tollgate' account, which cannot reach the test's
    directories."""
    return pwd.getpwuid(os.geteuid()).pw_name


def _die_with_parent():
    # in the child, between fork and exec: its death signal is the test's end
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def spawn(argv, **kw):
    """subprocess.Popen in a process group of its own that dies with the test;
    call it from the main thread (the death signal follows the forking thread)."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, process_group=0, preexec_fn=_die_with_parent, **kw)
    _procs.append(p)
    return p


def kill_group(p, timeout=5):
    """SIGTERM to p's process group, SIGKILL to what is left after timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            continue
        try:
            os.killpg(p.pid, 0)	# workers of a master that is gone
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.2)
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def adopt(pid):
    """A daemon that forked away from its starter: _reap() stops it too."""
    _adopted.append(pid)


def _reap():
    while _procs:
        kill_group(_procs.pop())
    while _adopted:
        pid = _adopted.pop()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            if wait_until(lambda: not os.path.exists("/proc/%d" % pid), 10):
                break
    if not os.environ.get("TOLLGATE_KEEP"):
        while _dirs:
            shutil.rmtree(_dirs.pop(), ignore_errors=True)


def _on_signal(sig, frame):
    # finally blocks and atexit run; SIGKILL alone skips them, and PDEATHSIG covers that
    signal.signal(sig, signal.SIG_DFL)
    raise SystemExit(128 + sig)


def _on_timeout(sig, frame):
    global _n
    _n += 1
    print("not ok %d - the test finished within its bound of %d s (TOLLGATE_TEST_TIMEOUT)" % (_n, TIMEOUT),
          flush=True)
    for d in _dirs:
        try:
            with open(os.path.join(d, "tollgated.log")) as f:
                diag("tollgated.log, last lines:\n" + "".join(f.readlines()[-15:]))
        except OSError:
            pass
    # a last word if cleanup itself hangs
    signal.signal(signal.SIGALRM, lambda *a: (_reap(), os._exit(1)))
    signal.alarm(30)
    print("1..%d" % _n, flush=True)
    raise SystemExit(1)


def bound(seconds):
    """Sets this file's time bound (from now), for a file that needs longer than TIMEOUT."""
    global TIMEOUT
    TIMEOUT = seconds
    signal.alarm(seconds)


atexit.register(_reap)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)
signal.signal(signal.SIGALRM, _on_timeout)
signal.alarm(TIMEOUT)


def wait_until(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False


class Mock:
    def __init__(self, *args):
        self.proc = spawn([os.path.join(BUILD, "mockprovider"), "-p", "0", "-q", "--judge"] + list(args),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = b""
        end = time.monotonic() + 10
        while not line.endswith(b"\n") and time.monotonic() < end:
            if select.select([self.proc.stderr], [], [], max(0, end - time.monotonic()))[0]:
                c = os.read(self.proc.stderr.fileno(), 1)
                if not c:
                    break
                line += c
        m = re.search(r":(\d+)\s*$", line.decode(errors="replace"))
        if not m:
            kill_group(self.proc)
            raise RuntimeError("mockprovider did not start: %r" % line)
        self.port = int(m.group(1))

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return json.loads(body)

    def stop(self):
        kill_group(self.proc)


PRICES = """\
gpt-4o-mini:
  input_cost_per_token: 1.5e-7
  output_cost_per_token: 6e-7
  cache_read_input_token_cost: 7.5e-8
claude-sonnet-4-5:
  input_cost_per_token: 3e-6
  output_cost_per_token: 1.5e-5
  cache_read_input_token_cost: 3e-7
  cache_creation_input_token_cost: 3.75e-6
text-embedding-3-small:
  input_cost_per_token: 2e-8
"""


class Receiver:
    """A local HTTP endpoint for what tollgate sends out (exports, alerts):
    keeps (path, content type, body) of each POST; answers 503 to the first
    `fail` of them."""

    def __init__(self, fail=0):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        self.fail, self.failed, self.got = fail, 0, []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    code = 503 if outer.failed < outer.fail else 200
                    if code == 503:
                        outer.failed += 1
                    else:
                        outer.got.append((self.path, self.headers.get("Content-Type"), body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, path=None):
        with self.lock:
            return [(t, b) for p, t, b in self.got if path is None or p == path]

    def stop(self):
        self.server.shutdown()


def config_text(mock_port, port, dead_port, extra="", tollgate_extra=""):
    return """\
x-mock: &mock
  api_base: http://127.0.0.1:%(mock)d/v1
  api_key: mock-upstream-key
tollgate:
  listen: 127.0.0.1
  port: %(port)d
  workers: 2
  price_files: [prices.yaml]
  max_body_bytes: 65536
  upstream_timeout: 30s
  shutdown_timeout: 10s
  ledger_sync_interval: 200ms
  keys: [%(user)s]
%(pin)s%(tollgate_extra)sgeneral_settings:
  master_key: %(master)s
litellm_settings:
  drop_params: true
model_list:
  - model_name: demo
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:%(mock)d
      api_key: anthropic-upstream-key
  - model_name: embed
    litellm_params:
      <<: *mock
      model: openai/text-embedding-3-small
  - model_name: multi
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:%(dead)d/v1
      api_key: k
  - model_name: multi
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
  - model_name: dead
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:%(dead)d/v1
      api_key: k
  - model_name: slow
    litellm_params:
      <<: *mock
      model: openai/gpt-4o-mini
      timeout: 1
  - model_name: priced
    litellm_params:
      <<: *mock
      model: openai/my-finetune
    model_info:
      input_cost_per_token: 1e-6
      output_cost_per_token: 2e-6
%(extra)s""" % {"mock": mock_port, "port": port, "dead": dead_port, "user": USER_KEY,
                "master": MASTER_KEY, "extra": extra, "tollgate_extra": tollgate_extra,
                "pin": "" if "\n  user:" in "\n" + tollgate_extra else "  user: %s\n" % user_name()}


class Gateway:
    """tls: an ssl.SSLContext when the listener speaks TLS (request() uses it)."""

    def __init__(self, mock, extra="", tollgate_extra="", prepare=None, tls=None):
        self.tls = tls
        self.dir = tempfile.mkdtemp(prefix="tollgate-it-")
        _dirs.append(self.dir)
        self.port = 0		# until tollgated says which it bound
        self.dead_port = dead_port()
        self.mock = mock
        self.config = os.path.join(self.dir, "tollgate.yaml")
        self.ledger = os.path.join(self.dir, "ledger")
        self.run_dir = os.path.join(self.dir, "run")
        with open(os.path.join(self.dir, "prices.yaml"), "w") as f:
            f.write(PRICES)
        self.tollgate_extra = tollgate_extra
        self.write_config(extra)
        if prepare is not None:
            prepare(self)
        self.log = open(os.path.join(self.dir, "tollgated.log"), "w")
        self.proc = spawn([os.path.join(BUILD, "tollgated"), "-f", "-c", self.config,
                           "--ledger", self.ledger, "--run-dir", self.run_dir],
                          stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(lambda: self.proc.poll() is not None or self.bound_port(), 15) or \
                self.proc.poll() is not None or \
                not wait_until(lambda: self.request("GET", "/health")[0] == 200, 15):
            self.stop()
            raise RuntimeError("tollgated did not come up:\n" + self.logtext())
        # from now on the config names the port bound, so a reload keeps it
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace("\n  port: 0\n", "\n  port: %d\n" % self.port, 1))

    def bound_port(self):
        text = self.logtext()
        m = re.search(r"\n  log_file: (\S+)", "\n" + self.tollgate_extra)
        if m and os.path.exists(m.group(1)):
            with open(m.group(1)) as f:
                text += f.read()
        m = re.search(r"listening on \S*:(\d+)", text)
        if m:
            self.port = int(m.group(1))
        return self.port

    def write_config(self, extra=""):
        with open(self.config, "w") as f:
            f.write(config_text(self.mock.port, self.port, self.dead_port, extra, self.tollgate_extra))

    def logtext(self):
        self.log.flush()
        with open(os.path.join(self.dir, "tollgated.log")) as f:
            return f.read()

    def request(self, method, path, body=None, key=MASTER_KEY, headers=None, timeout=30):
        h = {"Content-Type": "application/json"}
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if headers:
            h.update(headers)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if self.tls is not None:
            c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.tls)
        else:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def post(self, path, body, **kw):
        return self.request("POST", path, body, **kw)

    def records(self, limit=1000):
        out = subprocess.run([os.path.join(BUILD, "tollctl"), "logs", "--ledger", self.ledger,
                              "--json", "--limit", str(limit)], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("tollctl logs failed: " + out.stderr)
        # amounts stay exact decimal text
        return [json.loads(l, parse_float=str) for l in out.stdout.splitlines() if l.strip()]

    def record(self, request_id):
        for r in self.records():
            if r.get("id") == request_id:
                return r
        return None

    def children(self, role=None):
        """The master's children, or those of one role ("worker", "accountant")."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        if role is None:
            return pids
        found = []
        for p in pids:
            try:
                with open("/proc/%d/comm" % p) as f:
                    if f.read().strip() == "tg-" + role:
                        found.append(p)
            except OSError:
                pass
        return found

    def cleanup(self):
        """Removes the scratch directory, unless TOLLGATE_KEEP is set (to read the logs)."""
        if not os.environ.get("TOLLGATE_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals the master and waits for it; kills its whole group if it will not go."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_group(self.proc)
                return None
        return self.proc.returncode


def teardown(gw, mock, *dirs):
    """Stops the gateway and the mock, removes the gateway's and the test's scratch directories."""
    gw.stop()
    mock.stop()
    gw.cleanup()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def stream_cost(data):
    """The cost a stream's last comment told the client, as text, or None."""
    told = [l[len(b": tollgate-cost "):].decode() for l in data.split(b"\n")
            if l.startswith(b": tollgate-cost ")]
    return told[-1] if told else None


def sigv4_ok(last, url, key, secret, region, service="bedrock"):
    """Whether botocore (Debian's python3-botocore, AWS's own signer) computes the signature of
    the request the mock received (/mock/last) that it carries; None without botocore."""
    try:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError:
        return None
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    auth = hdrs.get("authorization", "")
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in auth else []
    req = AWSRequest(method="POST", url=url, data=last["body"].encode(),
                     headers={h: hdrs[h] for h in signed if h in hdrs})
    a = SigV4Auth(Credentials(key, secret, hdrs.get("x-amz-security-token")), service, region)
    req.context["timestamp"] = hdrs.get("x-amz-date", "")
    want = a.signature(a.string_to_sign(req, a.canonical_request(req)), req)
    return "host" in signed and auth.endswith("Signature=" + want)


class Postgres:
    """A private PostgreSQL server on loopback for the fleet tests: Debian's postgresql,
    initdb'd in a scratch directory (as 'nobody' when the tests run as root: PostgreSQL
    will not run as root), a role 'tollgate' with a password, database 'fleet';
    SCRAM over TCP. Stopped on every exit path, like every process spawn() starts.
    skip_reason() says why there is none."""
    PASSWORD = "fleet-secret"

    @staticmethod
    def bindir():
        import glob
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        return os.path.dirname(found[-1]) if found else None

    @staticmethod
    def skip_reason():
        return None if Postgres.bindir() else "no PostgreSQL server (apt install postgresql)"

    def __init__(self):
        self.bin = Postgres.bindir()
        self.dir = tempfile.mkdtemp(prefix="tollgate-pg-")
        _dirs.append(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.user = {} if os.geteuid() != 0 else {"user": "nobody", "group": "nogroup"}
        if self.user:
            os.chown(self.dir, pwd.getpwnam("nobody").pw_uid, -1)
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write(self.PASSWORD + "\n")
        if self.user:
            os.chown(pw, pwd.getpwnam("nobody").pw_uid, -1)
        out = subprocess.run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "tollgate",
                              "--pwfile", pw, "--auth-host=scram-sha-256", "--auth-local=trust",
                              "-E", "UTF8", "--no-sync"], capture_output=True, text=True, timeout=120,
                             **self.user)
        if out.returncode != 0:
            raise RuntimeError("initdb failed: " + out.stderr[-2000:])
        self.port = free_port()
        self.start()
        self.psql("CREATE DATABASE fleet", db="postgres")
        self.dsn = "postgresql://tollgate:%s@127.0.0.1:%d/fleet?connect_timeout=5" % (self.PASSWORD, self.port)

    def start(self):
        self.proc = spawn([os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port),
                           "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "a"),
                          **self.user)
        if not wait_until(lambda: self.proc.poll() is None and subprocess.run(
                [os.path.join(self.bin, "pg_isready"), "-h", self.dir, "-p", str(self.port)],
                capture_output=True).returncode == 0, 30, 0.1):
            raise RuntimeError("postgres did not start")

    def stop(self):
        kill_group(self.proc, timeout=10)

    def psql(self, sql, db="fleet"):
        """Rows of a query, each a list of text fields (through the local socket)."""
        out = subprocess.run([os.path.join(self.bin, "psql"), "-h", self.dir, "-p", str(self.port), "-U",
                              "tollgate", "-d", db, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("psql: " + out.stderr)
        return [l.split("\t") for l in out.stdout.splitlines()]


class Redis:
    """A private redis-server on loopback (Debian's redis-server), no persistence, in a
    scratch directory; stopped on every exit path. skip_reason() says why there is none."""

    @staticmethod
    def skip_reason():
        return None if shutil.which("redis-server") else "no redis-server (apt install redis-server)"

    def __init__(self, password=None):
        self.dir = tempfile.mkdtemp(prefix="tollgate-redis-")
        _dirs.append(self.dir)
        self.port = free_port()
        self.password = password
        self.start()
        auth = ":%s@" % password if password else ""
        self.url = "redis://%s127.0.0.1:%d" % (auth, self.port)

    def start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--enable-debug-command", "yes"]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = spawn(argv, stdout=open(os.path.join(self.dir, "log"), "a"), stderr=subprocess.STDOUT)
        if not wait_until(lambda: self.cli("PING") == "PONG", 15, 0.05):
            raise RuntimeError("redis-server did not start")

    def stop(self):
        kill_group(self.proc)

    def cli(self, *args):
        argv = ["redis-cli", "-p", str(self.port)] + (["-a", self.password, "--no-auth-warning"]
                                                      if self.password else []) + list(args)
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return out.stdout.strip()


def storm(gws, clients, per_client, send):
    """clients threads spread over gws, each calling send(gw) per_client times: what they returned."""
    out, lock = [], threading.Lock()

    def run(g):
        for _ in range(per_client):
            r = send(g)
            with lock:
                out.append(r)
    threads = [threading.Thread(target=run, args=(gws[i % len(gws)],)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return out


def check_config(gw, tollgate_lines):
    """tollgated -t on gw's config with tollgate_lines added to its tollgate: section (a copy
    beside it): (the copy's path, the finished process)."""
    with open(gw.config) as f:
        text = f.read()
    bad = gw.config + ".bad"
    with open(bad, "w") as f:
        f.write(text.replace("tollgate:\n", "tollgate:\n" + tollgate_lines, 1))
    return bad, subprocess.run([os.path.join(BUILD, "tollgated"), "-t", "-c", bad], capture_output=True,
                               text=True, timeout=30)

#!/usr/bin/python3
"""TLS on the client listener (tollgate.tls_cert_file / tls_key_file) with a
throwaway self-signed certificate: requests priced and recorded as over plain
HTTP, and every HTTP/1.1 case of http.t (keep-alive, pipelining, chunked
bodies, streams, malformed requests, 408 and 413) run again over TLS; plain
HTTP to the TLS port; a renewed certificate served after SIGHUP and a broken
one refused; tollgated -t on missing and mismatched files.  Then the metrics
listener (tollgate.metrics_listen): /metrics and /health there only, with
metrics_auth."""
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import (BUILD, MASTER_KEY, USER_KEY, Gateway, Mock, config_text, dead_port, done, eq,  # noqa: E402
                free_port, ok, skip, wait_until)

CHAT = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}


def make_cert(cert, key, cn):
    """A self-signed P-256 certificate and its key, by the openssl command; False if it cannot."""
    if shutil.which("openssl") is None:
        return False
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=" + cn], capture_output=True)
    return r.returncode == 0


def client_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed: what is checked is the fingerprint
    return ctx


CTX = client_context()


def tls_socket(port, timeout=10):
    return CTX.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout))


def served_fingerprint(gw):
    s = tls_socket(gw.port)
    try:
        return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
    finally:
        s.close()


def file_fingerprint(cert):
    with open(cert) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def load_http_t():
    """http.t's tests, to run again with its Conn speaking TLS."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "http.t")
    loader = importlib.machinery.SourceFileLoader("http_t", path)
    spec = importlib.util.spec_from_loader("http_t", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)

    class TLSConn(mod.Conn):
        def __init__(self, gw, timeout=10):
            self.s = tls_socket(gw.port, timeout)
            self.buf = b""
    mod.Conn = TLSConn
    return mod


def line_of(text, needle):
    return next(i + 1 for i, l in enumerate(text.splitlines()) if needle in l)


def test_check_files(mock):
    d = tempfile.mkdtemp(prefix="tollgate-tls-t-")
    try:
        make_cert(os.path.join(d, "a.pem"), os.path.join(d, "a.key"), "a")
        make_cert(os.path.join(d, "b.pem"), os.path.join(d, "b.key"), "b")
        with open(os.path.join(d, "prices.yaml"), "w") as f:
            f.write("gpt-4o-mini:\n  input_cost_per_token: 1e-7\n")
        cases = [
            ("a.pem", "a.key", 0, None, "matching certificate and key: valid"),
            ("a.pem", "missing.key", 1, ("tls_key_file", "cannot read", "missing.key"),
             "a missing key file"),
            ("missing.pem", "a.key", 1, ("tls_cert_file", "cannot read", "missing.pem"),
             "a missing certificate file"),
            ("a.pem", "b.key", 1, ("tls_key_file", "does not match"), "a key that is not the certificate's"),
            ("a.key", "a.key", 1, ("tls_cert_file", "no PEM certificate"), "a key given as the certificate"),
        ]
        for cert, key, rc, words, what in cases:
            text = config_text(mock.port, 0, dead_port(),
                               tollgate_extra="  tls_cert_file: %s\n  tls_key_file: %s\n" % (cert, key))
            path = os.path.join(d, "tollgate.yaml")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([os.path.join(BUILD, "tollgated"), "-t", "-c", path],
                               capture_output=True, text=True)
            if rc == 0:
                eq(r.returncode, 0, "tollgated -t: " + what)
                continue
            where = "%s:%d: tollgate.%s" % (path, line_of(text, words[0]), words[0])
            ok(r.returncode == 1 and where in r.stderr and all(w in r.stderr for w in words[1:]),
               "tollgated -t: %s is an error at %s" % (what, where), r.stderr)
            if words[1] == "does not match":
                try:
                    r = subprocess.run([os.path.join(BUILD, "tollgated"), "-f", "-c", path, "--ledger",
                                        os.path.join(d, "ledger"), "--run-dir", os.path.join(d, "run")],
                                       capture_output=True, text=True, timeout=20)
                    ok(r.returncode != 0 and where in r.stderr and "does not match" in r.stderr,
                       "and tollgated refuses to start with it, saying so", r.stderr)
                except subprocess.TimeoutExpired:
                    ok(False, "and tollgated refuses to start with it (it ran instead)")
        text = config_text(mock.port, 0, dead_port(), tollgate_extra="  tls_cert_file: a.pem\n")
        with open(os.path.join(d, "tollgate.yaml"), "w") as f:
            f.write(text)
        r = subprocess.run([os.path.join(BUILD, "tollgated"), "-t", "-c", os.path.join(d, "tollgate.yaml")],
                           capture_output=True, text=True)
        ok(r.returncode == 1 and "tollgate.tls_cert_file is set but tollgate.tls_key_file is not" in r.stderr,
           "a certificate without a key is an error", r.stderr)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_priced(gw):
    st, h, data = gw.post("/v1/chat/completions", CHAT)
    eq(st, 200, "a chat completion over TLS")
    # 1000 * 1.5e-7 + 50 * 6e-7, as over plain HTTP (gateway.t)
    eq(h.get("x-tollgate-response-cost"), "0.00018", "priced as over plain HTTP")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec is not None and rec.get("cost_usd") == "0.00018" and rec.get("model_requested") == "demo",
       "and recorded at its cost", rec)
    st, h, data = gw.post("/v1/chat/completions", dict(CHAT, stream=True, mock={"chunks": 20}))
    ok(st == 200 and b": tollgate-cost 0.00018" in data and data.rstrip().endswith(b"data: [DONE]"),
       "a stream over TLS, with its cost comment", data[-200:])
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec is not None and rec.get("cost_usd") == "0.00018", "and recorded", rec)


def test_keep_alive(gw, http_t):
    c = http_t.Conn(gw)
    peer = c.s.getpeercert(binary_form=True)
    statuses = []
    for _ in range(5):
        c.send(http_t.post("/v1/chat/completions", json.dumps(CHAT)))
        statuses.append(c.response()[0])
    eq(statuses, [200] * 5, "five requests one after the other on one TLS connection")
    # a large body: several records, read in several turns
    big = json.dumps(dict(CHAT, messages=[{"role": "user", "content": "x" * 60000}]))
    c.send(http_t.post("/v1/chat/completions", big))
    eq(c.response()[0], 200, "then a 60 KB body (several records) on the same connection")
    ok(c.s.getpeercert(binary_form=True) == peer, "one TLS session throughout")
    c.close()


def test_slow_reader(gw, http_t):
    """A client that reads slowly: the server's TLS writes wait for writability and resume."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", gw.port))
    c = http_t.Conn.__new__(http_t.Conn)
    c.s, c.buf = CTX.wrap_socket(raw), b""
    http_t.big_stream_to_pausing_reader(c, 3000, "a slow TLS reader")
    c.close()


def test_plain_to_tls(gw):
    workers = sorted(gw.children("worker"))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        got = s.recv(4096)
        closed = got == b"" or not got.startswith(b"HTTP/")
        while got:
            got = s.recv(4096)
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    s.close()
    ok(closed, "plain HTTP to the TLS port: the connection is closed, unanswered")
    st = gw.request("GET", "/health")[0]
    ok(st == 200 and sorted(gw.children("worker")) == workers,
       "and the server goes on serving, with the same workers", (st, workers, gw.children("worker")))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"\x16\x03\x01\x00\x05garbage-that-is-no-hello")
    try:
        while s.recv(4096):
            pass
        closed = True
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    s.close()
    ok(closed and gw.request("GET", "/health")[0] == 200, "a broken handshake: closed, server up")


def test_reload(gw, mock):
    cert, key = os.path.join(gw.dir, "cert.pem"), os.path.join(gw.dir, "key.pem")
    old = served_fingerprint(gw)
    eq(old, file_fingerprint(cert), "the certificate served is the file's")
    make_cert(cert + ".new", key + ".new", "renewed")
    new = file_fingerprint(cert + ".new")
    os.replace(key + ".new", key)
    os.replace(cert + ".new", cert)
    gw.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: served_fingerprint(gw) == new, 15),
       "after SIGHUP the renewed certificate is served", gw.logtext()[-1500:])
    eq(gw.post("/v1/chat/completions", CHAT)[0], 200, "and requests go on")

    # a key that is not the certificate's: the reload is refused, the old one kept
    make_cert(os.path.join(gw.dir, "other.pem"), os.path.join(gw.dir, "other.key"), "other")
    failures = gw.logtext().count("reload failed")
    shutil.copy(os.path.join(gw.dir, "other.key"), key)
    gw.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: gw.logtext().count("reload failed") > failures, 15),
       "SIGHUP with a key that does not match: the reload fails", gw.logtext()[-1500:])
    log = gw.logtext()
    ok("tollgate.tls_key_file: the key in" in log and "does not match" in log,
       "and the log says which key and why", log[-800:])
    eq(served_fingerprint(gw), new, "the certificate of the running generation is still served")
    eq(gw.post("/v1/chat/completions", CHAT)[0], 200, "and requests are still answered")


def test_metrics_listener(gw):
    mport = gw.metrics_port

    def get(path, key=None, method="GET", body=None):
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
        h = {"Authorization": "Bearer " + key} if key else {}
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    st, data = get("/metrics", key=MASTER_KEY)
    ok(st == 200 and b"# TYPE tollgate_requests_total" in data and b"tollgate_requests_total{" in data,
       "/metrics on the metrics listener, plain HTTP", (st, data[:300]))
    eq(get("/metrics")[0], 401, "metrics_auth there: no key, 401")
    eq(get("/metrics", key=USER_KEY)[0], 403, "a client key, 403")
    eq(get("/health/liveness")[0], 200, "/health/liveness there")
    eq(get("/health/readiness")[0], 200, "/health/readiness there")
    st, data = get("/v1/chat/completions", key=MASTER_KEY, method="POST", body=json.dumps(CHAT))
    ok(st == 404 and json.loads(data)["error"]["code"] == "not_found",
       "/v1/chat/completions there: a 404 JSON error", (st, data))
    eq(get("/v1/models", key=MASTER_KEY)[0], 404, "/v1/models there: 404")
    st, h, data = gw.request("GET", "/metrics")
    ok(st == 404 and json.loads(data)["error"]["code"] == "not_found",
       "/metrics on the API listener: 404 when metrics_listen is set", (st, data))
    eq(gw.request("GET", "/health/liveness")[0], 200, "/health stays on the API listener")


def main():
    probe = tempfile.mkdtemp(prefix="tollgate-tls-probe-")
    can = make_cert(os.path.join(probe, "c.pem"), os.path.join(probe, "k.pem"), "probe")
    shutil.rmtree(probe, ignore_errors=True)
    if not can:
        skip("no openssl command to make a certificate with")
        done()
    mock = Mock()
    try:
        test_check_files(mock)
        mport = free_port()

        def prepare(g):
            make_cert(os.path.join(g.dir, "cert.pem"), os.path.join(g.dir, "key.pem"), "localhost")
            g.metrics_port = mport
        gw = Gateway(mock, tls=CTX, prepare=prepare,
                     tollgate_extra="  client_timeout: 1s\n  tls:\n    cert_file: cert.pem\n"
                                    "    key_file: key.pem\n  metrics_listen: 127.0.0.1:%d\n"
                                    "  metrics_auth: true\n" % mport)
        try:
            http_t = load_http_t()
            test_priced(gw)
            test_keep_alive(gw, http_t)
            test_slow_reader(gw, http_t)
            # http.t's HTTP/1.1 cases, unchanged, over TLS
            http_t.test_keep_alive_and_pipelining(gw)
            http_t.test_chunked_request(gw)
            http_t.test_expect_continue(gw)
            http_t.test_http10(gw)
            http_t.test_streams_and_head(gw)
            http_t.test_malformed(gw)
            http_t.test_timeouts(gw)
            test_plain_to_tls(gw)
            test_metrics_listener(gw)
            test_reload(gw, mock)
            log = gw.logtext()
            ok("killed by signal" not in log and "exited with status" not in log,
               "no worker died along the way", log[-1500:])
        finally:
            gw.stop()
            gw.cleanup()
    finally:
        mock.stop()
    done()


if __name__ == "__main__":
    main()

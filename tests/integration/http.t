#!/usr/bin/python3
"""tollgated's HTTP/1.1 server on raw sockets: keep-alive, pipelining,
chunked bodies both ways, Expect: 100-continue, HTTP/1.0, HEAD, malformed
requests, size limits and client_timeout."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import MASTER_KEY, Gateway, Mock, dead_port, done, eq, ok, wait_until  # noqa: E402

CHAT = json.dumps({"model": "demo", "messages": [{"role": "user", "content": "hi"}]})
STREAM = json.dumps({"model": "demo", "stream": True, "messages": [],
                     "mock": {"chunks": 5, "chunk_delay_ms": 5}})


class Conn:
    """One client connection that reads answers off the wire itself."""

    def __init__(self, gw, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", gw.port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def fill(self):
        got = self.s.recv(65536)
        if not got:
            raise EOFError
        self.buf += got

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def take(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self, head_only=False):
        status = int(self.line().split(" ")[1])
        headers = {}
        while True:
            line = self.line()
            if not line:
                break
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        if head_only or status == 100:
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self.line().split(";")[0], 16)
                body += self.take(size)
                self.line()
                if size == 0:
                    break
            return status, headers, body
        if "content-length" in headers:
            return status, headers, self.take(int(headers["content-length"]))
        try:  # to the close
            while True:
                self.fill()
        except EOFError:
            pass
        body, self.buf = self.buf, b""
        return status, headers, body

    def closed(self):
        """True when the server closed the connection (EOF, or a reset)."""
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def post(path, body, extra="", version="1.1"):
    return ("POST %s HTTP/%s\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (path, version, MASTER_KEY, len(body), extra, body))


def test_keep_alive_and_pipelining(gw):
    c = Conn(gw)
    c.send(post("/v1/chat/completions", CHAT))
    st, h, body = c.response()
    eq(st, 200, "a chat completion on a raw connection")
    ok("date" in h and h.get("connection") is None, "keep-alive by default, with a Date header", h)
    c.send(post("/v1/chat/completions", CHAT))
    eq(c.response()[0], 200, "a second request on the same connection")
    # three requests in one write: answered in order
    c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + post("/v1/chat/completions", CHAT) +
           "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
    got = [c.response() for _ in range(3)]
    eq([g[0] for g in got], [200, 200, 404], "pipelined requests are answered in order")
    ok(json.loads(got[1][2]).get("usage"), "the pipelined chat's body is whole")
    c.close()


def test_chunked_request(gw):
    c = Conn(gw)
    head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % MASTER_KEY)
    parts = [CHAT[:10], CHAT[10:11], CHAT[11:]]
    c.send(head)
    for p in parts:
        c.send("%x;ext=1\r\n%s\r\n" % (len(p), p))
        time.sleep(0.05)
    c.send("0\r\nTrailer: x\r\n\r\n")
    st, h, body = c.response()
    eq(st, 200, "a chunked request body is decoded")
    rec = gw.record(h.get("x-tollgate-request-id"))
    ok(rec and rec.get("model_requested") == "demo", "and recorded")
    c = Conn(gw)  # the last one may have idled past client_timeout
    c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    st, h, body = c.response()
    eq(st, 400, "a malformed chunk size: 400")
    ok(c.closed(), "and the connection closes")
    c = Conn(gw)
    c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Transfer-Encoding: chunked\r\n\r\n")
    eq(c.response()[0], 400, "Content-Length with Transfer-Encoding: 400")
    c.close()


def test_expect_continue(gw):
    c = Conn(gw)
    head = post("/v1/chat/completions", CHAT, "Expect: 100-continue\r\n")
    c.send(head[:-len(CHAT)])
    st, h, _ = c.response()
    eq(st, 100, "Expect: 100-continue gets 100 Continue before the body")
    c.send(CHAT)
    eq(c.response()[0], 200, "then the answer")
    big = "x" * (1 << 20)
    c.send(post("/v1/chat/completions", big, "Expect: 100-continue\r\n")[:-len(big)])
    st, h, body = c.response()
    eq(st, 413, "a body announced far over the limit: 413 before it is sent")
    eq(json.loads(body)["error"]["code"], "request_too_large", "as an OpenAI-style error")
    ok(h.get("connection") == "close" and c.closed(), "and the connection closes")


def test_http10(gw):
    c = Conn(gw)
    c.send(post("/v1/chat/completions", CHAT, version="1.0"))
    st, h, body = c.response()
    eq(st, 200, "HTTP/1.0")
    ok(h.get("connection") == "close" and c.closed(), "closes after the answer without keep-alive")
    c = Conn(gw)
    c.send(post("/v1/chat/completions", CHAT, "Connection: keep-alive\r\n", version="1.0"))
    st, h, body = c.response()
    eq(h.get("connection"), "keep-alive", "HTTP/1.0 with Connection: keep-alive stays open")
    c.send(post("/v1/chat/completions", STREAM, "Connection: keep-alive\r\n", version="1.0"))
    st, h, body = c.response()
    ok(st == 200 and "transfer-encoding" not in h and b"data: [DONE]" in body,
       "an HTTP/1.0 stream is not chunked and ends with the connection", (h, body[-80:]))


def test_streams_and_head(gw):
    c = Conn(gw)
    c.send(post("/v1/chat/completions", STREAM))
    st, h, body = c.response()
    ok(st == 200 and h.get("transfer-encoding") == "chunked", "a stream to an HTTP/1.1 client is chunked")
    ok(b": tollgate-cost" in body and body.rstrip().endswith(b"data: [DONE]"),
       "with every event and the cost comment", body[-120:])
    c.send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")
    st, h, body = c.response(head_only=True)
    ok(st == 200 and int(h.get("content-length", "0")) > 0, "HEAD /health: the headers only", h)
    c.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    st, h, body = c.response()
    ok(st == 200 and h.get("connection") == "close" and c.closed(),
       "Connection: close is honoured", h)


def test_malformed(gw):
    cases = [
        ("GARBAGE\r\n\r\n", 400, "a request line without a target"),
        ("GET /health HTTP/2.0\r\n\r\n", 505, "HTTP/2.0 in an HTTP/1 request line"),
        ("BREW /pot HTTP/1.1\r\n\r\n", 501, "an unknown method"),
        ("GET /health HTTP/1.1\r\nNo colon here\r\n\r\n", 400, "a header line without a colon"),
        ("GET /health HTTP/1.1\r\nX: " + "a" * 70000 + "\r\n\r\n", 431, "a head over 64 KiB"),
        ("GET /" + "a" * 9000 + " HTTP/1.1\r\n\r\n", 414, "a target over 8 KiB"),
    ]
    for raw, want, what in cases:
        c = Conn(gw)
        c.send(raw)
        st, h, body = c.response()
        err = json.loads(body).get("error", {}) if body else {}
        ok(st == want and err.get("type") == "invalid_request_error", "%s: %d" % (what, want), (st, body[:200]))
        ok(c.closed(), "and the connection closes")


def test_timeouts(gw):
    c = Conn(gw)
    c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
    st, h, body = c.response()
    eq(st, 408, "a head that stops coming: 408 after client_timeout")
    eq(json.loads(body)["error"]["code"], "request_timeout", "as an OpenAI-style error")
    ok(c.closed(), "and the connection closes")
    # no request line yet: the error cannot go by the endpoint
    c = Conn(gw)
    c.send("POST /v1/mess")
    st, h, body = c.response()
    ok(st == 408 and json.loads(body)["error"]["code"] == "request_timeout",
       "a request line that stops coming: 408 too", (st, body[:200]))
    ok("killed by signal" not in gw.logtext(), "no worker died of it", gw.logtext()[-600:])

    # a client trickling its head a byte at a time is cut off at the same deadline
    c = Conn(gw)
    result = {}

    def trickle():
        try:
            for ch in "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a" * 100:
                c.send(ch)
                time.sleep(0.05)
        except OSError:
            result["cut"] = True
    t = threading.Thread(target=trickle)
    t.start()
    # meanwhile, other clients are served
    c2 = Conn(gw)
    c2.send(post("/v1/chat/completions", CHAT))
    eq(c2.response()[0], 200, "another client is served while one trickles")
    c2.close()
    try:
        st = c.response()[0]
    except (EOFError, ConnectionResetError, socket.timeout):
        st = None
    t.join()
    ok(st == 408 and result.get("cut"), "a trickling head is cut at client_timeout, not kept alive by each byte", st)

    c = Conn(gw)
    time.sleep(1.5)
    ok(c.closed(), "an idle connection closes after client_timeout")


def test_proxy_environment(mock):
    """http_proxy in tollgated's environment is honoured (curl reads it when it is set)."""
    os.environ["http_proxy"] = "http://127.0.0.1:%d" % dead_port()
    try:
        gw = Gateway(mock)
    finally:
        del os.environ["http_proxy"]
    try:
        c = Conn(gw)
        c.send(post("/v1/chat/completions", CHAT))
        eq(c.response()[0], 502, "with http_proxy naming a dead proxy, the provider is unreachable: 502")
    finally:
        gw.stop()
        gw.cleanup()


def big_stream_to_pausing_reader(c, n, who):
    """Asks c for an n-event stream, pauses while it piles up, then reads it: it must arrive
    whole, with the cost comment.  The answer's headers."""
    c.send(post("/v1/chat/completions", json.dumps({"model": "demo", "stream": True, "messages": [],
                                                    "mock": {"chunks": n}})))
    c.fill()
    time.sleep(0.7)  # the provider is far ahead meanwhile
    st, h, body = c.response()
    events = [e for e in body.split(b"\n\n") if e.startswith(b"data: {")]
    ok(st == 200 and len(events) >= n and body.rstrip().endswith(b"data: [DONE]") and
       b": tollgate-cost" in body,
       "a %d-event stream (%d KB) to %s arrives whole" % (n, len(body) // 1024, who),
       (st, len(events), body[-200:]))
    return h


def test_slow_stream_reader(gw):
    """A stream far larger than the socket buffers to a client that pauses: the worker stops
    reading the provider while the client is behind (no whole stream held in memory) and
    resumes as it reads, so the stream arrives whole."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect(("127.0.0.1", gw.port))
    c = Conn.__new__(Conn)
    c.s, c.buf = raw, b""
    h = big_stream_to_pausing_reader(c, 6000, "a client that pauses")
    c.close()
    rid = h.get("x-tollgate-request-id")
    ok(wait_until(lambda: any(r.get("id") == rid and r.get("status") == 200 for r in gw.records()), 10),
       "and its record is written", rid)


def main():
    mock = Mock()
    gw = Gateway(mock, tollgate_extra="  client_timeout: 1s\n")
    try:
        test_keep_alive_and_pipelining(gw)
        test_chunked_request(gw)
        test_expect_continue(gw)
        test_http10(gw)
        test_streams_and_head(gw)
        test_slow_stream_reader(gw)
        test_malformed(gw)
        test_timeouts(gw)
    finally:
        gw.stop()
        gw.cleanup()
    try:
        test_proxy_environment(mock)
    finally:
        mock.stop()
    done()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Streams relayed by a worker, from a provider of this test's own that sends
canned bytes in pieces cut where it likes: LF, CRLF and CR-only line ends,
comments, a CRLF cut between its CR and LF.  The client must get the
provider's bytes exactly (less the usage chunk tollgate asked for, plus the
cost comment before the end marker), and the usage must be read from the
events, whatever their line ends."""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Gateway, MASTER_KEY, done, eq, ok, teardown  # noqa: E402

CHUNK = ('{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini",'
         '"choices":[{"index":0,"delta":{"content":"%s"}}]}')
USAGE = ('{"id":"c1","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],'
         '"usage":{"prompt_tokens":1000,"completion_tokens":50,"total_tokens":1050}}')


def openai_stream(nl, comment=True):
    """A chat stream with line end nl; returns (its pieces, the usage event)."""
    usage = "data: " + USAGE + nl + nl
    events = [": ping" + nl + nl] if comment else []
    events += ["data: " + CHUNK % w + nl + nl for w in ("Hel", "lo", "!")]
    events += [usage, "data: [DONE]" + nl + nl]
    return "".join(events), usage


def anthropic_stream(nl):
    e = lambda name, data: "event: %s%sdata: %s%s%s" % (name, nl, json.dumps(data), nl, nl)
    return "".join([
        e("message_start", {"type": "message_start", "message": {
            "model": "claude-sonnet-4-5", "usage": {"input_tokens": 1000, "output_tokens": 1}}}),
        ": a comment" + nl,
        e("content_block_delta", {"type": "content_block_delta", "index": 0,
                                  "delta": {"type": "text_delta", "text": "hi"}}),
        e("message_delta", {"type": "message_delta", "usage": {"output_tokens": 50}}),
        e("message_stop", {"type": "message_stop"}),
    ])


def cut(text, at):
    """text cut at the offsets at (bytes), as pieces."""
    b = text.encode()
    at = [0] + sorted(set(a for a in at if 0 < a < len(b))) + [len(b)]
    return [b[at[i]:at[i + 1]] for i in range(len(at) - 1)]


class Provider:
    """Answers every POST with the next script's pieces, each its own HTTP
    chunk, a pause between them so that each reaches the gateway alone."""

    def __init__(self):
        self.scripts = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                pieces = outer.scripts.pop(0) if outer.scripts else [b"data: [DONE]\n\n"]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for p in pieces:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
                    self.wfile.flush()
                    time.sleep(0.02)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def relayed(gw, provider, pieces, path="/v1/chat/completions", **body):
    provider.scripts.append(pieces)
    body.setdefault("model", "demo")
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    body["stream"] = True
    kw = {"key": None, "headers": {"x-api-key": MASTER_KEY}} if path == "/v1/messages" else {}
    st, h, data = gw.post(path, body, **kw)
    rec = gw.record(h.get("x-tollgate-request-id"))
    return st, data, rec


def expect(stream, marker, cost, drop=""):
    """What the client should get: the stream less drop, the cost comment before marker."""
    i = stream.rindex(marker)
    return (stream[:i].replace(drop, "", 1) if drop else stream[:i]).encode() + \
        (": tollgate-cost %s\n\n" % cost).encode() + stream[i:].encode()


def test_openai(gw, provider):
    for name, nl in (("LF", "\n"), ("CRLF", "\r\n"), ("CR-only", "\r")):
        stream, usage = openai_stream(nl)
        # cut inside the JSON, between the line ends of a blank line, and
        # between a CRLF's CR and LF
        at = [7, 30]
        for k in range(len(stream)):
            if stream.startswith(nl + nl, k):
                at += [k + 1, k + len(nl) + 1]
        st, data, rec = relayed(gw, provider, cut(stream, at))
        eq(st, 200, "%s stream: 200" % name)
        eq(data, expect(stream, "data: [DONE]", "0.00018", drop=usage),
           "%s stream: the provider's bytes, less the usage chunk tollgate asked for" % name)
        ok(rec and rec.get("cost_usd") == "0.00018",
           "%s stream: usage read from its events, priced" % name, rec)
        ok(rec and not set(rec.get("flags", [])) & {"stream_incomplete", "upstream_failed"},
           "%s stream: recorded complete" % name, rec)

    stream, usage = openai_stream("\r", comment=False)
    st, data, rec = relayed(gw, provider, cut(stream, range(0, len(stream), 3)),
                            stream_options={"include_usage": True})
    eq(data, expect(stream, "data: [DONE]", "0.00018"),
       "CR-only in 3-byte pieces, usage asked for by the client: its usage chunk kept")
    ok(rec and rec.get("cost_usd") == "0.00018", "and priced", rec)

    stream, usage = openai_stream("\r\n")
    # the end marker's blank line cut between its CR and LF: the LF may not
    # overtake the marker held back until the commit
    k = len(stream) - 1
    st, data, rec = relayed(gw, provider, cut(stream, [k]))
    eq(data, expect(stream, "data: [DONE]", "0.00018", drop=usage),
       "the end marker's last LF in a piece of its own stays after it")


def test_anthropic(gw, provider):
    for name, nl in (("LF", "\n"), ("CR-only", "\r")):
        stream = anthropic_stream(nl)
        st, data, rec = relayed(gw, provider, cut(stream, range(5, len(stream), 11)),
                                path="/v1/messages", model="claude", max_tokens=100)
        eq(st, 200, "/v1/messages, %s: 200" % name)
        # 1000 * 3e-6 + 50 * 1.5e-5
        eq(data, expect(stream, "event: message_stop", "0.00375"),
           "/v1/messages, %s: the provider's bytes, the cost before message_stop" % name)
        ok(rec and rec.get("cost_usd") == "0.00375",
           "/v1/messages, %s: usage from message_start and message_delta" % name, rec)


def main():
    provider = Provider()
    gw = Gateway(provider)
    try:
        test_openai(gw, provider)
        test_anthropic(gw, provider)
    finally:
        teardown(gw, provider)
    done()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A worker out of file descriptors (RLIMIT_NOFILE low, more clients than it
allows): its listeners rest a moment at each failed accept instead of failing
again at once for as long as the clients stay (a busy loop that wrote a log
line each turn, thousands a second); once the clients go, it serves again."""
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tg import Gateway, Mock, done, eq, ok, wait_until  # noqa: E402

LIMIT = 96


def main():
    mock = Mock()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # the gateway inherits the low limit; this process takes its own back
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, hard))
    try:
        gw = Gateway(mock)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    socks = []
    try:
        before = gw.logtext().count("cannot accept")
        for _ in range(2 * LIMIT):
            try:
                socks.append(socket.create_connection(("127.0.0.1", gw.port), timeout=2))
            except OSError:
                break
        ok(wait_until(lambda: gw.logtext().count("cannot accept") > before, 10),
           "more clients than the workers have descriptors: accepts fail, and the log says so")
        time.sleep(2)
        failures = gw.logtext().count("cannot accept") - before
        # a worker rests 250 ms after each failure: a few lines a second, not thousands
        ok(failures < 60, "the listeners rest between tries (%d failures logged in about 2 s)" % failures,
           gw.logtext()[-600:])
        for s in socks:
            s.close()
        socks = []
        ok(wait_until(lambda: gw.request("GET", "/health")[0] == 200, 10),
           "once the clients go, the gateway serves again")
        eq(gw.post("/v1/chat/completions", {"model": "demo",
                                             "messages": [{"role": "user", "content": "hi"}]})[0], 200,
           "a chat completion too")
    finally:
        for s in socks:
            s.close()
        gw.stop()
        mock.stop()
        gw.cleanup()
    done()


main()

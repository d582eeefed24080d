#!/usr/bin/python3
"""make torture's scenarios, each for a few seconds (tests/torture/run.py):
kill -9 of workers, the accountant and the master under load, SIGHUP loops
with valid and invalid configs and new prices, a full ledger disk (as root),
provider faults and bad clients.  Every check of every scenario is a TAP line."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torture"))
import run  # noqa: E402

sys.exit(run.main(["--tap", "--clients", "4", "--kill-seconds", "3", "--kill-interval", "1",
                   "--reload-seconds", "3", "--fault-repeats", "1", "--client-timeout", "1",
                   "--slow-read-seconds", "2", "--idle-connections", "500",
                   "--big-stream-chunks", "20000", "--full-seconds", "60", "--full-size", "512k"]))

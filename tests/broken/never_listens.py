"""START-1: never listens and prints nothing; sleeps until SIGTERM or SIGINT, then exits 0.

Models a server stuck before bind() (waiting on a lock, a config, a DNS lookup): it is alive
but never ready, so the harness's readiness wait must time out and say so.
"""

import signal

from _base import exit_on_signals, parse_args

if __name__ == "__main__":
    parse_args(__doc__ or "")
    exit_on_signals()
    while True:
        signal.pause()

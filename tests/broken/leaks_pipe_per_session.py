"""RES-8: each connection gets a pipe on accept (to wake a worker for it) that is never closed.

Models a per-connection descriptor other than the socket (a self-pipe, an eventfd or timerfd,
a log file) opened when a client arrives and forgotten when it leaves: every socket is
closed, so the socket clauses pass, but every session leaves two fds behind, and the server
reaches its fd limit after some hundreds of sessions. Where no pipe can be had (EMFILE) the
connection goes without one, so that running out of fds stays RES-4's business; and it raises
its soft fd limit to the hard limit at start (as Go's runtime does), so that the leak shows as
growth in every environment, not as exhaustion where the soft limit is 1024. Each connection
holds three fds while open.
"""

import contextlib
import os
import resource
import socket

from _base import EchoServer, run


class LeaksPipePerSession(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.wake_ups: list[tuple[int, int]] = []  # the defect: nothing ever closes them

    def on_accept(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.wake_ups.append(os.pipe())


if __name__ == "__main__":
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    run(LeaksPipePerSession)

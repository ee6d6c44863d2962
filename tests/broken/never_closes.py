"""Hostile: echoes correctly but closes no connection, neither on EOF nor on error.

The harness must report FAIL with evidence (no EOF after half-close, fds growing), never hang
waiting for an EOF that does not come.
"""

import socket

from _base import EchoServer, run


class NeverCloses(EchoServer):
    def close(self, conn: socket.socket) -> None:
        self.park(conn)


if __name__ == "__main__":
    run(NeverCloses)

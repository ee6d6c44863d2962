"""Hostile: accepts each connection and closes it at once, echoing nothing.

The harness must report FAIL with evidence (EOF where echo was expected), never hang or error.
"""

import socket

from _base import EchoServer, run


class ClosesAtOnce(EchoServer):
    def on_accept(self, conn: socket.socket) -> None:
        self.close(conn)


if __name__ == "__main__":
    run(ClosesAtOnce)

"""Hostile: accepts each connection, then never reads from it nor closes it.

The harness must report FAIL with evidence (no echo within its deadline), never hang: the
client's sends fill the kernel buffers and then block.
"""

import socket

from _base import EchoServer, run


class NeverReads(EchoServer):
    def on_accept(self, conn: socket.socket) -> None:
        self.park(conn)


if __name__ == "__main__":
    run(NeverReads)

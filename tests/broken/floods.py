"""Hostile: writes b"x" to every client for as long as it stays connected, and never reads.

The harness must report FAIL with evidence (unexpected bytes), and its reads must be bounded:
this server never stops on its own; only the client closing ends the stream.
"""

import selectors
import socket

from _base import RECV_SIZE, EchoServer, run


class Floods(EchoServer):
    def on_accept(self, conn: socket.socket) -> None:
        self.watch(conn)

    def buffer_of(self, conn: socket.socket) -> bytearray:
        return bytearray(b"x" * RECV_SIZE)  # always more to send

    def watch(self, conn: socket.socket) -> None:
        self.selector.modify(conn, selectors.EVENT_WRITE, conn)  # never EVENT_READ


if __name__ == "__main__":
    run(Floods)

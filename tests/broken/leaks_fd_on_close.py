"""RES-1: on a finished connection it calls shutdown(SHUT_RDWR) but never close().

Models confusing shutdown() with close(): the client sees EOF as it should, but every graceful
session leaves a socket (kept referenced, so GC cannot close it) and its fd behind.
"""

import socket

from _base import EchoServer, run


class LeaksFdOnClose(EchoServer):
    def finish(self, conn: socket.socket) -> None:
        conn.shutdown(socket.SHUT_RDWR)
        self.park(conn)  # the defect: no close()


if __name__ == "__main__":
    run(LeaksFdOnClose)

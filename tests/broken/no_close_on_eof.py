"""CLOSE-1: on EOF it flushes what it owes, unregisters the socket, and never closes it.

Models a handler that stops watching a finished connection but forgets close() (and keeps it
in a list, so the garbage collector cannot close it either): the client never reads EOF and
the fd leaks.
"""

import socket

from _base import EchoServer, run


class NoCloseOnEof(EchoServer):
    def finish(self, conn: socket.socket) -> None:
        self.park(conn)  # the defect: should close(conn)


if __name__ == "__main__":
    run(NoCloseOnEof)

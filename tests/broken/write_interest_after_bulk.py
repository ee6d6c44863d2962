"""RES-6: once a connection has owed a lot, watches it for writability for good.

Models a loop that turns EPOLLOUT on for "bulk" connections (here: more than 256 KiB owed) and
never turns it off: small echoes never get there, so a lightly used server is idle, but after
one large transfer an idle, always-writable socket wakes the loop on every call and it spins.
"""

import socket

from _base import READ, WRITE, EchoServer, run

BULK = 256 << 10


class WriteInterestAfterBulk(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.bulk: set[socket.socket] = set()

    def watch(self, conn: socket.socket) -> None:
        if len(self.buffer_of(conn)) > BULK:
            self.bulk.add(conn)
        super().watch(conn)
        if conn in self.bulk and conn in self.out and not self.buffer_of(conn):
            self.selector.modify(conn, READ | WRITE, conn)  # the defect: with nothing owed

    def forget(self, conn: socket.socket) -> None:
        super().forget(conn)
        self.bulk.discard(conn)


if __name__ == "__main__":
    run(WriteInterestAfterBulk)

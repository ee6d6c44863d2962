"""FAULT-2: takes BlockingIOError (EAGAIN) from recv() for EOF: flushes and closes.

Models a read path that trusts the selector: "reported readable, so recv() returns data or
b'' at EOF". A readiness report is a hint, not a promise (a spurious wake-up, or readiness
consumed by another reader first), and this server ends a live connection on one.
"""

import socket

from _base import EchoServer, run


class BlockingAsEof(EchoServer):
    def on_nothing_to_read(self, conn: socket.socket) -> None:
        self.on_eof(conn)  # the defect: "nothing now" taken for "nothing ever"


if __name__ == "__main__":
    run(BlockingAsEof)

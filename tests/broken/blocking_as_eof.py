"""FAULT-2: takes BlockingIOError (EAGAIN) from recv() for EOF: flushes and closes.

Models a read path that trusts the selector: "reported readable, so recv() returns data or
b'' at EOF". A readiness report is a hint, not a promise (a spurious wake-up, or readiness
consumed by another reader first), and this server ends a live connection on one.
"""

import socket

from _base import RECV_SIZE, EchoServer, run


class BlockingAsEof(EchoServer):
    def receive(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(RECV_SIZE)
        except BlockingIOError:
            data = b""  # the defect: "nothing now" taken for "nothing ever"
        except OSError as exc:
            self.on_recv_error(conn, exc)
            return
        if data:
            self.on_data(conn, data)
        else:
            self.on_eof(conn)


if __name__ == "__main__":
    run(BlockingAsEof)

"""ABORT-6: records each failed connection in a fixed table of 512 and dies on the 513th.

Models bookkeeping sized for "enough" errors (a C array of recent failures, a ring buffer with
an off-by-one): every single fault is handled, and only a storm of them brings the server down.
"""

import socket

from _base import EchoServer, run

TABLE_SIZE = 512


class CrashesAfterManyErrors(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.failures: list[str] = [""] * TABLE_SIZE
        self.failed = 0

    def on_error(self, conn: socket.socket, exc: OSError) -> None:
        self.failures[self.failed] = type(exc).__name__  # the defect: IndexError at 513
        self.failed += 1
        super().on_error(conn, exc)


if __name__ == "__main__":
    run(CrashesAfterManyErrors)

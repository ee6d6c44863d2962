"""ECHO-1: echoes only complete lines (up to the last b"\\n"); the rest waits, until EOF.

Models a server written for a line protocol (readline(), or buffering until a delimiter):
bytes without a newline are never echoed while the client keeps the connection open.
"""

import socket

from _base import EchoServer, run


class LineBuffered(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.partial: dict[socket.socket, bytearray] = {}

    def on_data(self, conn: socket.socket, data: bytes) -> None:
        held = self.partial.setdefault(conn, bytearray())
        held += data
        cut = held.rfind(b"\n") + 1  # the defect: nothing goes out before a newline
        super().on_data(conn, bytes(held[:cut]))
        del held[:cut]

    def on_eof(self, conn: socket.socket) -> None:
        self.buffer_of(conn).extend(self.partial.pop(conn, b""))
        super().on_eof(conn)


if __name__ == "__main__":
    run(LineBuffered)

"""FAULT-1: at EOF, sends what is owed with one send() and closes, whatever send() took.

Models a close path written as `conn.send(pending); conn.close()`: on loopback a small echo
fits in one send() and it works; once send() takes less than it is given (a short write, a
full send buffer), the tail of the echo is lost, and the client sees EOF too early.
"""

import contextlib
import socket

from _base import EchoServer, run


class LastSendAtEof(EchoServer):
    def on_eof(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.send(self.buffer_of(conn))  # the defect: the rest of a short send is dropped
        self.close(conn)


if __name__ == "__main__":
    run(LastSendAtEof)

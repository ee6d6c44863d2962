"""CLOSE-3: on EOF it closes at once, dropping whatever echo is still owed.

Models `if not data: sock.close()` in a server that does buffer partial sends: fine for small
echoes, but a client that half-closes while echo is still owed gets a truncated echo. Like
every _base server it stops reading at 1 MiB owed, so its out-buffer is often empty at EOF,
the kernel's send buffer having room for the last reads: the loss shows only to a client that
fills that send buffer first (spec CLOSE-3).
"""

import socket

from _base import EchoServer, run


class CloseWithoutFlush(EchoServer):
    def on_eof(self, conn: socket.socket) -> None:
        self.close(conn)  # the defect: the out-buffer is not flushed first


if __name__ == "__main__":
    run(CloseWithoutFlush)

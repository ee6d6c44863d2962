"""CLOSE-3: on EOF it closes at once, dropping whatever echo is still owed.

Models `if not data: sock.close()` in a server that does buffer partial sends: fine for small
echoes, but a client that half-closes while megabytes are still owed gets a truncated echo.
"""

import socket

from _base import EchoServer, run


class CloseWithoutFlush(EchoServer):
    def on_eof(self, conn: socket.socket) -> None:
        self.close(conn)  # the defect: the out-buffer is not flushed first


if __name__ == "__main__":
    run(CloseWithoutFlush)

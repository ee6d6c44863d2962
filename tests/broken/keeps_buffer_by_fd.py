"""ECHO-6: keeps out-buffers by fd number and clears one only when its session ends cleanly.

Models `buffers[sock.fileno()]` with the error path closing the socket but not deleting the
entry: the next connection the kernel gives the same fd is sent the aborted client's leftover
echo before its own.
"""

import socket

from _base import EchoServer, run


class KeepsBufferByFd(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.by_fd: dict[int, bytearray] = {}

    def buffer_of(self, conn: socket.socket) -> bytearray:
        return self.by_fd.setdefault(conn.fileno(), bytearray())

    def finish(self, conn: socket.socket) -> None:
        self.by_fd.pop(conn.fileno(), None)  # only here: the error path forgets to
        super().finish(conn)


if __name__ == "__main__":
    run(KeepsBufferByFd)

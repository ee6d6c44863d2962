"""ECHO-5: one output buffer shared by all connections.

Models a module-level `pending = b""`: every writable connection sends from the same buffer,
so with concurrent clients bytes go to whichever connection is writable first.
"""

import socket

from _base import EchoServer, run


class SharedBuffer(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.shared = bytearray()

    def buffer_of(self, conn: socket.socket) -> bytearray:
        return self.shared  # the defect


if __name__ == "__main__":
    run(SharedBuffer)

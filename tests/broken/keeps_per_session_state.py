"""RES-7: keeps a record of every session, with its 64 KiB receive buffer, after it ends.

Models a per-connection object that outlives its connection: a session table (here keyed by
the connection) from which close() forgets to remove the entry. The socket is closed, so the
fd count stays flat and RES-1 passes; each session leaves 64 KiB behind.
"""

import socket

from _base import RECV_SIZE, EchoServer, run


class KeepsPerSessionState(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.sessions: dict[socket.socket, bytearray] = {}

    def on_accept(self, conn: socket.socket) -> None:
        self.sessions[conn] = bytearray(RECV_SIZE)  # the defect: never removed


if __name__ == "__main__":
    run(KeepsPerSessionState)

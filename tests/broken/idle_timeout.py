"""CLOSE-4: closes any connection that has sent nothing for 0.5 s.

Models an idle timeout (a keep-alive limit, a "clean up stale clients" sweep): the server
closes first, although the spec's echo server never does.
"""

import socket
import time

from _base import EchoServer, run

IDLE_LIMIT = 0.5


class IdleTimeout(EchoServer):
    select_timeout = 0.1

    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.last_heard: dict[socket.socket, float] = {}

    def on_accept(self, conn: socket.socket) -> None:
        self.last_heard[conn] = time.monotonic()

    def on_data(self, conn: socket.socket, data: bytes) -> None:
        self.last_heard[conn] = time.monotonic()
        super().on_data(conn, data)

    def step(self) -> None:
        super().step()
        too_old = time.monotonic() - IDLE_LIMIT
        for conn in [c for c, heard in self.last_heard.items() if heard < too_old]:
            del self.last_heard[conn]
            if conn in self.out:
                self.close(conn)  # the defect: the server closes first


if __name__ == "__main__":
    run(IdleTimeout)

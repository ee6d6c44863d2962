"""MUX-3: serves the connections on its first 40 fds as they become ready, others on a sweep.

Models a fixed-size array of watched descriptors, indexed by fd, with the overflow kept in a
list that is checked every 0.05 s: nothing is lost and everyone is served, but the overflow
connections get one turn per sweep while the others are served at once.
"""

import socket
import time

from _base import EchoServer, run

WATCHED = 40
SWEEP = 0.05  # seconds between turns of the overflow connections


class WatchesFirstConnections(EchoServer):
    select_timeout = SWEEP

    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.overflow: set[socket.socket] = set()
        self.last_sweep = time.monotonic()

    def on_accept(self, conn: socket.socket) -> None:
        if conn.fileno() - self.listener.fileno() > WATCHED:
            self.overflow.add(conn)

    def forget(self, conn: socket.socket) -> None:
        super().forget(conn)
        self.overflow.discard(conn)

    def step(self) -> None:
        now = time.monotonic()
        sweep = now - self.last_sweep >= SWEEP
        if sweep:
            self.last_sweep = now
        for key, mask in self.selector.select(self.select_timeout):
            if key.data is None:
                self.accept()
            elif sweep or key.data not in self.overflow:
                self.on_ready(key.data, mask)


if __name__ == "__main__":
    run(WatchesFirstConnections)

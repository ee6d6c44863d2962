"""ACCEPT-2: listen(1), and accept() at most once per 50 ms tick, so a connect burst overflows.

Models the tutorial `listen(1)` / `listen(5)` in a loop that does not drain the accept queue
(a fixed-tick loop, or per-accept work such as a reverse DNS lookup). Linux drops the SYNs
(and handshake-final ACKs) that find the accept queue full, and those clients wait for
retransmits after 1 s, 3 s, 7 s... A fast loop with listen(1) alone still serves a 200-connect
burst in ~1.5 s on loopback, so the slow accept is what makes the small queue observable.
Sequential clients never notice beyond 50 ms.
"""

import selectors
import socket
import time

from _base import EchoServer, open_listener, run

ACCEPT_TICK = 0.05


class TinyBacklog(EchoServer):
    select_timeout = ACCEPT_TICK
    listener_back_at = 0.0  # 0: the listener is registered

    @staticmethod
    def listen(host: str, port: int) -> socket.socket:
        listener = open_listener(host, port)
        # The defect. Linux lets listen() shrink the backlog of a listening socket.
        listener.listen(1)
        return listener

    def accept(self) -> None:
        super().accept()
        self.selector.unregister(self.listener)
        self.listener_back_at = time.monotonic() + ACCEPT_TICK

    def step(self) -> None:
        if self.listener_back_at and time.monotonic() >= self.listener_back_at:
            self.selector.register(self.listener, selectors.EVENT_READ)
            self.listener_back_at = 0.0
        super().step()


if __name__ == "__main__":
    run(TinyBacklog)

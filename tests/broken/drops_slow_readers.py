"""MUX-4: drops a client that, once its echo backs up, drains it slower than 2 MiB/s.

Models a "slow client" defence (a minimum send rate, a write timeout) applied to every client:
a reader with a small window that takes its echo a byte at a time is cut off mid-stream, and
so is any client that pauses its reading while echo is owed. Its small SO_SNDBUF keeps the
echo in its own buffer, where the defence can see it: with the megabytes a loopback send
buffer grows to, the kernel would hold all of it.
"""

import socket
import time

from _base import EchoServer, run

GRACE = 0.5  # seconds after the first short send before the rate is judged
MIN_RATE = 2 << 20  # bytes per second


SEND_BUFFER = 16 << 10  # "to save memory"


class DropsSlowReaders(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.backed_up: dict[socket.socket, tuple[float, int]] = {}  # since, bytes sent since

    def on_accept(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def send_some(self, conn: socket.socket, owed: bytearray) -> int:
        sent = super().send_some(conn, owed)
        if conn not in self.backed_up and sent == len(owed):
            return sent
        since, drained = self.backed_up.get(conn, (time.monotonic(), 0))
        drained += sent
        self.backed_up[conn] = (since, drained)
        elapsed = time.monotonic() - since
        if elapsed > GRACE and drained < MIN_RATE * elapsed:
            raise TimeoutError("client too slow")  # the defect: closed through the error path
        return sent

    def forget(self, conn: socket.socket) -> None:
        super().forget(conn)
        self.backed_up.pop(conn, None)


if __name__ == "__main__":
    run(DropsSlowReaders)

"""MUX-1: echoes with a blocking sendall() from inside the event loop.

Models `conn.sendall(data)` in a select() loop (the seed select server does it): fine while
clients read, but one client that stops reading blocks the whole loop in that send, and every
other client waits with it.
"""

import socket

from _base import EchoServer, run


class BlocksInSendall(EchoServer):
    def on_data(self, conn: socket.socket, data: bytes) -> None:
        conn.setblocking(True)
        try:
            conn.sendall(data)  # the defect: returns only once this client has read enough
        except OSError as exc:
            self.on_send_error(conn, exc)
            return
        conn.setblocking(False)


if __name__ == "__main__":
    run(BlocksInSendall)

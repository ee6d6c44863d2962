"""ACCEPT-3: calls getpeername() right after accept(), outside any try.

Models the seed servers' per-connection log line. A client that reset before the server got
to accept() is still returned by accept() on Linux, but getpeername() raises ENOTCONN, and the
uncaught OSError ends the server.
"""

import socket

from _base import EchoServer, run


class GetpeernameOnAccept(EchoServer):
    def on_accept(self, conn: socket.socket) -> None:
        # The defect: unguarded, raises ENOTCONN for a client that reset before accept().
        print("client", conn.getpeername(), "connected", flush=True)


if __name__ == "__main__":
    run(GetpeernameOnAccept)

"""ABORT-1: an OSError from recv() is not handled, so one client's reset ends the server.

Models the seed epoll server: `conns[fd].recv(1024)` outside any try, so the
ConnectionResetError of a client that closed with SO_LINGER {1, 0} propagates out of the loop.
"""

import socket

from _base import EchoServer, run


class DiesOnReset(EchoServer):
    def on_recv_error(self, conn: socket.socket, exc: OSError) -> None:
        raise exc  # the defect


if __name__ == "__main__":
    run(DiesOnReset)

"""FAULT-6: closes a connection on ConnectionError from recv(), and dies on any other OSError.

Models `except ConnectionError:` around recv(), the Python spelling of "the peer went away":
it catches ECONNRESET, but ETIMEDOUT is TimeoutError, which is no ConnectionError, and a
connection that keepalive (or TCP_USER_TIMEOUT) gave up on ends the whole server.
"""

import socket

from _base import EchoServer, run


class CatchesConnectionErrorOnly(EchoServer):
    def on_recv_error(self, conn: socket.socket, exc: OSError) -> None:
        if not isinstance(exc, ConnectionError):
            raise exc  # the defect
        self.close(conn)


if __name__ == "__main__":
    run(CatchesConnectionErrorOnly)

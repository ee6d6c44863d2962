"""ACCEPT-1: closing a connection unregisters the listener instead of that connection.

Models the wrong-variable bug (`selector.unregister(sock)` where `sock` names the listener):
after the first client closes, nobody new is accepted; the process stays up, connects still
complete in the kernel's backlog, but no echo ever comes.
"""

import contextlib
import socket

from _base import EchoServer, run


class ForgetsListener(EchoServer):
    def close(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError):  # gone after the first close
            self.selector.unregister(self.listener)  # the defect: should be conn
        del self.out[conn]
        self.draining.discard(conn)
        conn.close()


if __name__ == "__main__":
    run(ForgetsListener)

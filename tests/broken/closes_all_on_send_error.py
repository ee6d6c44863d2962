"""FAULT-5: a send() error on one connection closes every connection.

Models a loop wrapped in one `try ... except OSError:` that "recovers" by dropping all its
state and starting over: one client's EPIPE or ECONNRESET resets everyone else's session.
"""

import socket

from _base import EchoServer, run


class ClosesAllOnSendError(EchoServer):
    def on_send_error(self, conn: socket.socket, exc: OSError) -> None:
        for each in list(self.out):
            self.close(each)  # the defect: the others had done nothing wrong


if __name__ == "__main__":
    run(ClosesAllOnSendError)

"""START-6: on SIGTERM it says goodbye to each client in turn, waiting up to 0.2 s for that
client to close, before it exits.

Models a "graceful" stop that shuts each connection down and waits for the client's FIN (or a
timeout) one connection at a time: quick with the two clients of START-4, some 4 s with twenty.
"""

import contextlib
import socket

from _base import RECV_SIZE, EchoServer, run

GOODBYE_WAIT = 0.2


class DrainsEachOnSigterm(EchoServer):
    def serve_forever(self) -> None:
        try:
            super().serve_forever()
        except SystemExit:  # raised by the SIGTERM and SIGINT handlers
            for conn in list(self.out):
                self.say_goodbye(conn)
            raise

    @staticmethod
    def say_goodbye(conn: socket.socket) -> None:
        """The defect: a wait per connection, in turn, while the process should be gone."""
        with contextlib.suppress(OSError):  # a timeout, or a client already gone
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(GOODBYE_WAIT)
            while conn.recv(RECV_SIZE):
                pass  # until the client closes its end


if __name__ == "__main__":
    run(DrainsEachOnSigterm)

"""RES-2: on an OSError from recv()/send() it unregisters the socket but never closes it.

Models an error path that only stops watching the connection (`unregister` and `continue`)
while a table still references the socket: every aborted session leaks one fd.
"""

import socket

from _base import EchoServer, run


class LeaksFdOnReset(EchoServer):
    def on_error(self, conn: socket.socket, exc: OSError) -> None:
        self.park(conn)  # the defect: should close(conn)


if __name__ == "__main__":
    run(LeaksFdOnReset)

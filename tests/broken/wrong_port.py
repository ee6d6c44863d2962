"""START-2: ignores --port and binds port 0, announcing the port it really got.

Models a server that hard-codes its port (or reads it from the wrong place): it is up and
honest about where, just not where it was told to be.
"""

import socket

from _base import EchoServer, open_listener, run


class WrongPort(EchoServer):
    @staticmethod
    def listen(host: str, port: int) -> socket.socket:
        return open_listener(host, 0)  # the defect: the requested port is dropped


if __name__ == "__main__":
    run(WrongPort)

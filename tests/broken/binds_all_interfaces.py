"""START-7: binds the wildcard address (0.0.0.0, or :: for an IPv6 host) whatever --host says.

Models `bind(("", port))`, the tutorial default: the server works and announces where it is,
but it listens on every interface, so any host that can reach the machine can connect. (While
it runs it is reachable from the network too; it only echoes, and lives for a test.)
"""

import socket

from _base import EchoServer, open_listener, run


class BindsAllInterfaces(EchoServer):
    @staticmethod
    def listen(host: str, port: int) -> socket.socket:
        return open_listener("::" if ":" in host else "0.0.0.0", port)  # the defect


if __name__ == "__main__":
    run(BindsAllInterfaces)

"""ECHO-4: calls send() once per write event and drops whatever the kernel did not take.

Models "hope it won't block": `sock.send(data)` on a non-blocking socket with the return value
ignored (and BlockingIOError swallowed). Small echoes survive; large ones lose bytes whenever
send() is partial. On loopback a client that reads concurrently keeps the (autotuned, MiB-sized)
send buffer empty and send() is never partial, so this server also sets a small SO_SNDBUF, the
condition under which the defect bites on a real network.
"""

import contextlib
import socket

from _base import EchoServer, run


class IgnoresPartialSend(EchoServer):
    def on_accept(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)

    def send_some(self, conn: socket.socket, owed: bytearray) -> int:
        with contextlib.suppress(BlockingIOError):
            conn.send(owed)
        return len(owed)  # the defect: whatever was not sent is dropped


if __name__ == "__main__":
    run(IgnoresPartialSend)

"""MODEL-1: a connection reset before it was accepted, with a first message already sent,
leaves that message's echo in a buffer kept by fd number, and the next connection that gets
the fd is sent those bytes before its own.

Models per-connection state kept by fd (`buffers[fd]`) plus an accept fast path: a first
message already queued at accept() that fits one page (over 64 bytes, a "request" rather
than a greeting, and at most 4 KiB) is read and echoed at once. The fast path's error
handler undoes what the loop registered but not the buffer it filled itself. The fixed
clauses reset before accept() only without data (ACCEPT-3, the fault storm of ABORT-6), or
with a message too short or too long for the fast path (RES-2's 21 bytes and 1 MiB, the
storm's 64 KiB); the model stops the server, sends 0 to 4096 bytes, resets, and reuses the fd.
"""

import socket

from _base import RECV_SIZE, EchoServer, run

GREETING, PAGE = 64, 4096  # the fast path takes first messages of GREETING+1 to PAGE bytes


class StaleBufferOnFdReuse(EchoServer):
    def __init__(self, listener: socket.socket) -> None:
        super().__init__(listener)
        self.by_fd: dict[int, bytearray] = {}

    def buffer_of(self, conn: socket.socket) -> bytearray:
        return self.by_fd.setdefault(conn.fileno(), bytearray())

    def forget(self, conn: socket.socket) -> None:
        self.by_fd.pop(conn.fileno(), None)
        super().forget(conn)

    def on_accept(self, conn: socket.socket) -> None:
        """The fast path: echo at once a first request that is already there."""
        try:
            data = conn.recv(RECV_SIZE, socket.MSG_PEEK)
            if not GREETING < len(data) <= PAGE:
                return  # nothing there, a greeting, or a body: the loop handles it
            owed = self.buffer_of(conn)
            owed.extend(conn.recv(RECV_SIZE))
            del owed[: conn.send(owed)]
        except BlockingIOError:
            return
        except OSError:
            EchoServer.forget(self, conn)  # the defect: by_fd[fd] keeps the unsent echo
            conn.close()
            return
        self.watch(conn)


if __name__ == "__main__":
    run(StaleBufferOnFdReuse)

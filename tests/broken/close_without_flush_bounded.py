"""CLOSE-3: it stops reading at 1 MiB owed, yet closes at EOF without flushing what it owes.

The same defect as close_without_flush.py in a server that bounds its memory. Its out-buffer is
often empty at EOF, the kernel's send buffer having room for the last reads, so the loss shows
only to a client that fills that send buffer first.
"""

import socket

from _base import WRITE, run
from close_without_flush import CloseWithoutFlush

HIGH_WATER = 1 << 20


class BoundedCloseWithoutFlush(CloseWithoutFlush):
    def watch(self, conn: socket.socket) -> None:
        super().watch(conn)
        if conn in self.out and len(self.out[conn]) >= HIGH_WATER:
            self.selector.modify(conn, WRITE, conn)  # owed this much: not read from until it drains


if __name__ == "__main__":
    run(BoundedCloseWithoutFlush)

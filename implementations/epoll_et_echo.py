"""Echo server on select.epoll() with EPOLLET: edge-triggered, so every wake-up is drained.

The multiplexing backends share one shape; a diff of two shows only the readiness calls.
"""

# Facts about edge-triggered epoll (EPOLLET):
# - An event is queued when readiness changes (new bytes, new send room, a new connection), not
#   while it lasts. Bytes or connections left behind get no further event: recv() and accept()
#   are drained to EAGAIN (BlockingIOError), send() is repeated until EAGAIN or nothing is owed;
#   only then is another edge sure to come. Hence echo(drain=True), and accept_all() to EAGAIN.
# - EPOLL_CTL_MOD re-arms: the kernel polls the socket again and queues an event if it is ready
#   now. A read stopped by backpressure resumes that way, its edge being long gone; so watch()
#   re-arms after every event instead of skipping unchanged interest as the level-triggered
#   server does.
# - EPOLLHUP and EPOLLERR are reported even when not requested; they cannot be masked.
# - On Linux a TCP reset reports EPOLLIN|EPOLLHUP|EPOLLERR together; a FIN alone is EPOLLIN
#   (recv returns b''), never EPOLLHUP, which needs both directions shut. Data that came with the
#   FIN is read before the hang-up is believed: closing on EPOLLHUP first loses it.
# - epoll watches the open file, not the descriptor number: unregister before close().

import select
import socket

from _common import start
from _connection import Connection, accept_all

HANGUP = select.EPOLLHUP | select.EPOLLERR
EDGE = select.EPOLLET

conns: dict[int, Connection] = {}
poller = select.epoll()


def accept_clients(listener: socket.socket) -> None:
    for sock in accept_all(listener):
        conns[sock.fileno()] = Connection(sock)
        poller.register(sock, select.EPOLLIN | EDGE)
    # accept_all() also stops at an error that leaves a client queued (ENOBUFS): re-arming
    # reports the listener again if one is, where waiting for the next edge would strand it.
    poller.modify(listener, select.EPOLLIN | EDGE)


def watch(conn: Connection) -> None:
    """Wait for what the connection can use now: writability only while something is owed."""
    mask = (select.EPOLLIN if conn.wants_read else 0) | (select.EPOLLOUT if conn.outbuf else 0)
    poller.modify(conn.sock, mask | EDGE)  # re-arms; even at 0, EPOLLHUP and EPOLLERR still come


def close_connection(conn: Connection) -> None:
    poller.unregister(conn.sock)
    del conns[conn.sock.fileno()]
    conn.sock.close()


def serve(listener: socket.socket) -> None:
    poller.register(listener, select.EPOLLIN | EDGE)
    while True:
        for fd, events in poller.poll():
            if fd == listener.fileno():
                accept_clients(listener)
            elif fd in conns:  # it may have been closed earlier in this batch
                # EPOLLIN is believed before EPOLLHUP: data that came with a FIN is echoed
                readable, hung_up = bool(events & select.EPOLLIN), bool(events & HANGUP)
                alive = conns[fd].echo(readable, hung_up, drain=True)
                (watch if alive else close_connection)(conns[fd])


def main() -> None:
    serve(start("Echo server on select.epoll(), edge-triggered."))


if __name__ == "__main__":
    main()

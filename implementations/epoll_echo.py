"""Echo server on select.epoll(), level-triggered: the interest set lives in the kernel.

The multiplexing backends share one shape; a diff of two shows only the readiness calls.
"""

# Facts about epoll:
# - Interest is kept in the kernel and epoll_wait returns only the ready sockets: O(ready), not
#   O(watched). Each register/modify is a system call, so unchanged interest is not re-sent.
# - EPOLLHUP and EPOLLERR are reported even when not requested; they cannot be masked.
# - On Linux a TCP reset reports EPOLLIN|EPOLLHUP|EPOLLERR together; a FIN alone is EPOLLIN
#   (recv returns b''), never EPOLLHUP, which needs both directions shut. Data that came with the
#   FIN is read before the hang-up is believed: closing on EPOLLHUP first loses it.
# - Level-triggered: a socket at EOF stays readable and one with send space stays writable, so
#   ignoring b'' or leaving EPOLLOUT registered with nothing to send spins at 100 % CPU.
# - epoll watches the open file, not the descriptor number: unregister before close().

import select
import socket

from _common import start
from _connection import Connection, accept_all

HANGUP = select.EPOLLHUP | select.EPOLLERR

conns: dict[int, Connection] = {}
poller = select.epoll()
interest: dict[int, int] = {}  # what the kernel was last told, per fd


def accept_clients(listener: socket.socket) -> None:
    for sock in accept_all(listener):
        conns[sock.fileno()] = Connection(sock)
        poller.register(sock, select.EPOLLIN)
        interest[sock.fileno()] = select.EPOLLIN


def watch(conn: Connection) -> None:
    """Wait for what the connection can use now: writability only while something is owed."""
    mask = (select.EPOLLIN if conn.wants_read else 0) | (select.EPOLLOUT if conn.outbuf else 0)
    if interest[conn.sock.fileno()] != mask:  # even at 0, EPOLLHUP and EPOLLERR still come
        poller.modify(conn.sock, mask)
        interest[conn.sock.fileno()] = mask


def close_connection(conn: Connection) -> None:
    poller.unregister(conn.sock)
    del conns[conn.sock.fileno()], interest[conn.sock.fileno()]
    conn.sock.close()


def serve(listener: socket.socket) -> None:
    poller.register(listener, select.EPOLLIN)
    while True:
        for fd, events in poller.poll():
            if fd == listener.fileno():
                accept_clients(listener)
            elif fd in conns:  # it may have been closed earlier in this batch
                # EPOLLIN is believed before EPOLLHUP: data that came with a FIN is echoed
                alive = conns[fd].echo(bool(events & select.EPOLLIN), bool(events & HANGUP))
                (watch if alive else close_connection)(conns[fd])


def main() -> None:
    serve(start("Echo server on select.epoll(), level-triggered."))


if __name__ == "__main__":
    main()

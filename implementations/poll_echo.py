"""Echo server on select.poll(): interest is registered once per socket, then modified.

The multiplexing backends share one shape; a diff of two shows only the readiness calls.
"""

# Facts about poll():
# - No FD_SETSIZE limit, but the whole pollfd array still crosses into the kernel on each call:
#   O(watched fds) per wake-up. The timeout is in milliseconds (select and epoll take seconds).
# - CPython rebuilds that array from its dict after any register/modify/unregister, another
#   O(watched fds) pass, so unchanged interest is not re-sent.
# - POLLHUP, POLLERR and POLLNVAL are reported even when not requested; they cannot be masked.
# - On Linux a TCP reset reports POLLIN|POLLHUP|POLLERR together; a FIN alone is POLLIN (recv
#   returns b''), never POLLHUP, which needs both directions shut. Data that came with the FIN is
#   read before the hang-up is believed: closing on POLLHUP first loses it.
# - Level-triggered: a socket at EOF stays readable and one with send space stays writable, so
#   ignoring b'' or watching for writes with nothing to send spins at 100 % CPU.

import select
import socket

from _common import start
from _connection import Connection, accept_all

HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL

conns: dict[int, Connection] = {}
poller = select.poll()
interest: dict[int, int] = {}  # what the poller was last told, per fd


def accept_clients(listener: socket.socket) -> None:
    for sock in accept_all(listener):
        conns[sock.fileno()] = Connection(sock)
        poller.register(sock, select.POLLIN)
        interest[sock.fileno()] = select.POLLIN


def watch(conn: Connection) -> None:
    """Wait for what the connection can use now: writability only while something is owed."""
    mask = (select.POLLIN if conn.wants_read else 0) | (select.POLLOUT if conn.outbuf else 0)
    if interest[conn.sock.fileno()] != mask:  # even at 0, POLLHUP and POLLERR still come
        poller.modify(conn.sock, mask)
        interest[conn.sock.fileno()] = mask


def close_connection(conn: Connection) -> None:
    poller.unregister(conn.sock)
    del conns[conn.sock.fileno()], interest[conn.sock.fileno()]
    conn.sock.close()


def serve(listener: socket.socket) -> None:
    poller.register(listener, select.POLLIN)
    while True:
        for fd, events in poller.poll():
            if fd == listener.fileno():
                accept_clients(listener)
            elif fd in conns:  # it may have been closed earlier in this batch
                # POLLIN is believed before POLLHUP: data that came with a FIN is echoed
                alive = conns[fd].echo(bool(events & select.POLLIN), bool(events & HANGUP))
                (watch if alive else close_connection)(conns[fd])


def main() -> None:
    serve(start("Echo server on select.poll()."))


if __name__ == "__main__":
    main()

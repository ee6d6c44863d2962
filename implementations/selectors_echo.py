"""Echo server on selectors.DefaultSelector: the portable face of epoll/kqueue/poll/select.

The multiplexing backends share one shape; a diff of two shows only the readiness calls.
"""

# Facts about selectors:
# - DefaultSelector is the best the platform has: epoll on Linux, then kqueue, devpoll, poll,
#   select. It is level-triggered whatever the backend, so the interest rules of poll apply: at
#   EOF stop reading, watch for writes only while something is owed, or the loop spins.
# - It has no hang-up event. EpollSelector turns any bit other than EPOLLIN into EVENT_WRITE and
#   any bit other than EPOLLOUT into EVENT_READ, then keeps what was registered: a reset socket
#   (EPOLLIN|EPOLLHUP|EPOLLERR) comes back readable or writable and the recv() or send() that
#   follows raises. The close-on-error paths are the hang-up branch.
# - register() and modify() refuse events == 0 (ValueError). No connection here ever wants
#   nothing: one that has seen EOF and owes nothing is closed instead.
# - modify() with unchanged events makes no system call, so watch() need not remember interest.

import selectors
import socket

from _common import start
from _connection import Connection, accept_all

conns: dict[int, Connection] = {}
selector = selectors.DefaultSelector()


def accept_clients(listener: socket.socket) -> None:
    for sock in accept_all(listener):
        conns[sock.fileno()] = Connection(sock)
        selector.register(sock, selectors.EVENT_READ)


def watch(conn: Connection) -> None:
    """Wait for what the connection can use now: writability only while something is owed."""
    read = selectors.EVENT_READ if conn.wants_read else 0
    selector.modify(conn.sock, read | (selectors.EVENT_WRITE if conn.outbuf else 0))


def close_connection(conn: Connection) -> None:
    selector.unregister(conn.sock)
    del conns[conn.sock.fileno()]
    conn.sock.close()


def serve(listener: socket.socket) -> None:
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for key, events in selector.select():
            if key.fileobj is listener:
                accept_clients(listener)
            elif key.fd not in conns:  # it may have been closed earlier in this batch
                continue
            elif conns[key.fd].echo(bool(events & selectors.EVENT_READ)):  # a hang-up is either
                watch(conns[key.fd])
            else:
                close_connection(conns[key.fd])


def main() -> None:
    serve(start("Echo server on selectors.DefaultSelector."))


if __name__ == "__main__":
    main()

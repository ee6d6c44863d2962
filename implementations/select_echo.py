"""Echo server on select.select(): the whole interest set goes to the kernel on every call.

The multiplexing backends share one shape; a diff of two shows only the readiness calls.
"""

# Facts about select():
# - fd_set is a bitmap of FD_SETSIZE (1024) bits. CPython raises ValueError("filedescriptor out
#   of range in select()") for any fd >= 1024 and the whole call fails, not one socket: a client
#   whose fd is that high must be refused at accept, or one busy moment kills the server.
# - There is no hang-up bit: a reset socket shows as readable (and writable) and the recv() or
#   send() that follows raises. The third set is TCP urgent data, not errors.
# - Level-triggered: a socket at EOF stays readable and one with send space stays writable, so
#   ignoring b'' or watching for writes with nothing to send spins at 100 % CPU.

import select
import socket

from _common import start
from _connection import Connection, accept_all

FD_SETSIZE = 1024

conns: dict[int, Connection] = {}
readers: set[int] = set()
writers: set[int] = set()


def watch(conn: Connection) -> None:
    """Wait for what the connection can use now: writability only while something is owed."""
    fd = conn.sock.fileno()
    (readers.add if conn.wants_read else readers.discard)(fd)
    (writers.add if conn.outbuf else writers.discard)(fd)


def close_connection(conn: Connection) -> None:
    fd = conn.sock.fileno()
    readers.discard(fd)
    writers.discard(fd)
    del conns[fd]
    conn.sock.close()


def accept_clients(listener: socket.socket) -> None:
    for sock in accept_all(listener):
        if sock.fileno() >= FD_SETSIZE:
            sock.close()  # select() cannot watch it; trying would crash the whole loop
            continue
        conns[sock.fileno()] = Connection(sock)
        readers.add(sock.fileno())


def on_ready(conn: Connection, readable: bool) -> None:
    """No hang-up bit here: a reset shows as readable or writable, and recv() or send() fails."""
    if conn.echo(readable):
        watch(conn)
    else:
        close_connection(conn)


def serve(listener: socket.socket) -> None:
    readers.add(listener.fileno())
    while True:
        readable, writable, _ = select.select(readers, writers, [])
        for fd in readable:
            if fd == listener.fileno():
                accept_clients(listener)
            elif fd in conns:  # it may have been closed earlier in this batch
                on_ready(conns[fd], readable=True)
        for fd in writable:
            if fd in conns:
                on_ready(conns[fd], readable=False)


def main() -> None:
    serve(start("Echo server on select.select()."))


if __name__ == "__main__":
    main()

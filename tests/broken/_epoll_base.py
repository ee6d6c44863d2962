"""A correct echo server on raw select.epoll, level-triggered, shaped like the seed server.

The raw-epoll broken servers override one method each: which events to ask for
(`interest`), how an event is dispatched (`on_event`), or the hang-up branch (`on_hangup`).

Some facts about epoll that these servers lean on:

- A TCP reset is reported as EPOLLIN|EPOLLHUP|EPOLLERR together (plus EPOLLRDHUP when asked),
  so a loop that tests EPOLLIN first reaches its HUP branch only when the suite's fault
  interposer (hup=once|always) strips EPOLLIN: spec ABORT-4 and ABORT-5.
- EPOLLRDHUP means "the peer sent FIN", and arrives in the same event as the data that
  preceded the FIN: that data is still in the receive queue (spec CLOSE-2).
- EPOLLHUP and EPOLLERR are always reported, whether asked for or not.

Like `_base.EchoServer`, it stops reading from a connection owed HIGH_WATER bytes (spec MUX-2)
and refuses a client that accept() could not take for want of descriptors (spec RES-5).
"""

from __future__ import annotations

import errno
import select
import socket

from _base import HIGH_WATER, RECV_SIZE
from _common import start  # importable once _base has put implementations/ on the path
from _connection import refuse_one

__all__ = ["EpollEchoServer", "run_epoll"]


class EpollEchoServer:
    """Echo every byte back; one out-buffer per fd; EPOLLOUT only while something is owed."""

    interest = select.EPOLLIN

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.epoll = select.epoll()
        self.epoll.register(listener.fileno(), select.EPOLLIN)
        self.conns: dict[int, socket.socket] = {}
        self.out: dict[int, bytearray] = {}
        self.draining: set[int] = set()

    def serve_forever(self) -> None:
        while True:
            for fd, event in self.epoll.poll():
                if fd == self.listener.fileno():
                    self.accept()
                elif fd in self.conns:
                    self.on_event(fd, event)

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                refuse_one(self.listener)  # left queued, it would keep the listener ready
            return
        conn.setblocking(False)
        self.conns[conn.fileno()] = conn
        self.out[conn.fileno()] = bytearray()
        self.epoll.register(conn.fileno(), self.interest)

    def on_event(self, fd: int, event: int) -> None:
        if event & select.EPOLLIN:
            self.on_readable(fd)
        elif event & (select.EPOLLHUP | select.EPOLLERR):
            self.on_hangup(fd)
        if event & select.EPOLLOUT and fd in self.out:
            self.on_writable(fd)

    def on_readable(self, fd: int) -> None:
        try:
            data = self.conns[fd].recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.close(fd)
            return
        if not data:
            self.draining.add(fd)
        self.out[fd] += data
        self.on_writable(fd)

    def on_writable(self, fd: int) -> None:
        owed = self.out[fd]
        try:
            sent = self.conns[fd].send(owed) if owed else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close(fd)
            return
        del owed[:sent]
        if fd in self.draining and not owed:
            self.close(fd)
            return
        reading = 0 if fd in self.draining or len(owed) >= HIGH_WATER else self.interest
        self.epoll.modify(fd, reading | (select.EPOLLOUT if owed else 0))

    def on_hangup(self, fd: int) -> None:
        self.close(fd)

    def close(self, fd: int) -> None:
        self.epoll.unregister(fd)
        self.conns.pop(fd).close()
        del self.out[fd]
        self.draining.discard(fd)


def run_epoll(server_cls: type[EpollEchoServer]) -> None:
    server_cls(start(server_cls.__doc__ or "echo server")).serve_forever()

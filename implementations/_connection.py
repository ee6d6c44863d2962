"""How clients arrive and how their bytes move, for the servers on non-blocking sockets.

Rules kept here, whatever readiness API a backend waits with:
- accept_all() takes every queued client; one that fails while queued costs only itself, and
  running out of descriptors never leaves the listener ready with nothing taken (a busy loop).
- A Connection owes its client exactly the bytes received and not yet sent, in order; it stops
  reading at EOF or when owed more than HIGH_WATER, and is finished once EOF is in and nothing
  is owed. receive() and flush() return False when the socket failed: close it and forget it.
- Bytes are read into one buffer shared by every connection and, when nothing is owed, sent
  straight from it: only what the kernel would not take is copied into the connection. The
  buffer is free again as soon as receive() returns. (Measured: recv() making a fresh bytes
  object, then two copies through the out-buffer, cost 6 % more CPU per 16 KiB echo.)
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator

CHUNK = 64 * 1024  # most bytes taken from the kernel by one recv()
HIGH_WATER = 1 << 20  # a client owed more than this is not read from (backpressure)

_spare_fd = os.open(os.devnull, os.O_RDONLY)  # spent when accept() fails with EMFILE
_inbuf = memoryview(bytearray(CHUNK))  # every recv_into() lands here; see the rules above


def accept_all(listener: socket.socket) -> Iterator[socket.socket]:
    """Yield each queued client as a non-blocking socket, until accept() says EAGAIN."""
    while True:
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            return
        except ConnectionAbortedError:
            continue  # that client gave up while queued; the next one may be fine
        except OSError as exc:
            if exc.errno == errno.EPROTO:
                continue  # accept(2): an error pending on that connection; retry as for EAGAIN
            if exc.errno not in (errno.EMFILE, errno.ENFILE) or not refuse_one(listener):
                # ENOBUFS, ENOMEM, or none queued after all: retry at the next wake-up
                # (edge-triggered: the next connection).
                return
            continue
        sock.setblocking(False)  # accept() returns a blocking socket whatever the listener is
        yield sock


def refuse_one(listener: socket.socket) -> bool:
    """Out of descriptors, accept the first queued client and close it at once; False if none
    was queued (Linux reports EMFILE before it looks at the queue).

    A client left queued keeps the listener ready and the loop spinning, so the spare
    descriptor is spent on it and taken back.
    """
    global _spare_fd
    os.close(_spare_fd)
    try:
        listener.accept()[0].close()
    except BlockingIOError:
        return False
    except OSError:
        pass
    finally:
        _spare_fd = os.open(os.devnull, os.O_RDONLY)
    return True


class Connection:
    """One client: its socket, the bytes owed to it, and whether it has sent EOF.

    With drain=False receive() makes one recv() (and sends its echo) and flush() one send(),
    which is all a level-triggered backend needs: what is left is reported again. With
    drain=True they go on until EAGAIN, as an edge-triggered backend must: what is left gets no
    further event.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.outbuf = bytearray()
        self.eof = False

    @property
    def wants_read(self) -> bool:
        # A client that does not read its echo is not read either: memory stays bounded.
        return not self.eof and len(self.outbuf) < HIGH_WATER

    @property
    def finished(self) -> bool:
        """EOF is in and every byte owed has gone out: time to close."""
        return self.eof and not self.outbuf

    def receive(self, drain: bool = False) -> bool:
        """recv() what the client sent and echo it, keeping what is not yet sent; False if the
        connection failed."""
        while self.wants_read:
            try:
                n = self.sock.recv_into(_inbuf)
                if not n:
                    self.eof = True  # stop reading; what is owed still goes out before the close
                elif self.outbuf:
                    self.outbuf += _inbuf[:n]  # behind what is owed: order is kept
                else:
                    sent = self._send_now(n)
                    if sent < n:
                        self.outbuf += _inbuf[sent:n]  # the rest waits for a writable event
            except BlockingIOError:
                break
            except OSError:  # ECONNRESET, ETIMEDOUT, EPIPE: nobody is left to echo to
                return False
            if not drain:
                break
        return True

    def _send_now(self, n: int) -> int:
        """send() the first n bytes of the shared buffer; how many the kernel took."""
        try:
            return self.sock.send(_inbuf[:n])
        except BlockingIOError:
            return 0

    def flush(self, drain: bool = False) -> bool:
        """send() what is owed; False if the connection failed."""
        while self.outbuf:
            try:
                sent = self.sock.send(self.outbuf)
            except BlockingIOError:
                break
            except OSError:  # EPIPE, ECONNRESET: the client is gone, and so are the bytes owed
                return False
            del self.outbuf[:sent]  # a partial send keeps the rest for the next writable event
            if not drain:
                break
        return True

    def echo(self, readable: bool, hung_up: bool = False, drain: bool = False) -> bool:
        """Move bytes after a readiness event; False once the connection is to be closed.

        Readable wins over a hang-up: data that came with a FIN is echoed, and a reset shows as a
        failed recv(). A hang-up with nothing left to read means close and forget. After a read
        the echo goes at once: the send buffer usually has room, so not one wake-up later.
        """
        ok = self.receive(drain) if readable else not hung_up
        return ok and self.flush(drain) and not self.finished

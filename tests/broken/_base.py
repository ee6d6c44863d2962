"""A correct echo server on selectors, built of hooks, so that a broken server is one override.

Rules the loop keeps (each broken server in this folder breaks exactly one of them):

1. Bytes are never decoded: what recv() returns goes, unchanged, to that connection's out-buffer.
2. EVENT_WRITE is registered only while the out-buffer is non-empty (else the loop spins).
3. On EOF the connection stops reading, sends everything it still owes, then closes.
4. An OSError from recv() or send() closes and forgets that connection, never the server.
5. Writes are handled before reads: a reset connection that is owed echo meets its error in
   send(), which is what spec ABORT-3 provokes.
6. A connection owed `high_water` bytes is not read from until it drains (spec MUX-2).
7. Out of descriptors (EMFILE), the client accept() could not take is accepted with a spare
   descriptor and closed at once: left queued, it keeps the listener ready (spec RES-5).

`run(EchoServer)` is a conforming server (correct_baseline.py); the self-tests check that.
"""

from __future__ import annotations

import errno
import selectors
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "implementations"))

from _common import exit_on_signals, open_listener, parse_args
from _connection import refuse_one

__all__ = [
    "HIGH_WATER",
    "RECV_SIZE",
    "WRITE",
    "EchoServer",
    "exit_on_signals",
    "open_listener",
    "parse_args",
    "run",
]

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
RECV_SIZE = 65536
HIGH_WATER = 1 << 20  # owed this much, a connection is not read from


class EchoServer:
    """Echo every byte back on the connection it came from."""

    select_timeout: float | None = None  # None: sleep until something is ready
    high_water: int | None = HIGH_WATER  # None: read on however much is owed
    selector_class: type[selectors.BaseSelector] = selectors.DefaultSelector

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.selector = self.selector_class()
        self.selector.register(listener, READ)
        self.out: dict[socket.socket, bytearray] = {}
        self.draining: set[socket.socket] = set()  # EOF seen, flushing what is owed
        # Forgotten but kept open, so GC cannot close them: the leaks modelled here.
        self.parked: list[socket.socket] = []

    # -- process set-up --------------------------------------------------------------------
    @staticmethod
    def install_signal_handlers() -> None:
        exit_on_signals()

    @staticmethod
    def listen(host: str, port: int) -> socket.socket:
        return open_listener(host, port)

    # -- the loop --------------------------------------------------------------------------
    def serve_forever(self) -> None:
        while True:
            self.step()

    def step(self) -> None:
        for key, mask in self.selector.select(self.select_timeout):
            if key.data is None:
                self.accept()
            else:
                self.on_ready(key.data, mask)

    def on_ready(self, conn: socket.socket, mask: int) -> None:
        if mask & WRITE:
            self.send_owed(conn)
        if mask & READ and conn in self.out:  # the send may have closed it
            self.receive(conn)

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except OSError as exc:
            self.on_accept_error(exc)
            return
        conn.setblocking(False)
        self.out[conn] = bytearray()
        self.selector.register(conn, READ, conn)
        self.on_accept(conn)

    def on_accept(self, conn: socket.socket) -> None:
        """Hook: conn was just accepted and registered for reading."""

    def on_accept_error(self, exc: OSError) -> None:
        """Hook: accept() failed. BlockingIOError or ECONNABORTED concern that client alone;
        out of descriptors, the client is refused (rule 7)."""
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            refuse_one(self.listener)

    # -- reading ---------------------------------------------------------------------------
    def receive(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(RECV_SIZE)
        except BlockingIOError:
            self.on_nothing_to_read(conn)
            return
        except OSError as exc:
            self.on_recv_error(conn, exc)
            return
        if data:
            self.on_data(conn, data)
        else:
            self.on_eof(conn)

    def on_nothing_to_read(self, conn: socket.socket) -> None:
        """Hook: recv() met EAGAIN. A readiness report is a hint, not a promise (a spurious
        wake-up): nothing now, the next report will come."""

    def on_data(self, conn: socket.socket, data: bytes) -> None:
        self.buffer_of(conn).extend(self.transform(data))
        self.watch(conn)

    def transform(self, data: bytes) -> bytes:
        return data

    def on_eof(self, conn: socket.socket) -> None:
        self.draining.add(conn)
        self.watch(conn)

    # -- writing ---------------------------------------------------------------------------
    def buffer_of(self, conn: socket.socket) -> bytearray:
        return self.out[conn]

    def send_owed(self, conn: socket.socket) -> None:
        owed = self.buffer_of(conn)
        try:
            sent = self.send_some(conn, owed)
        except OSError as exc:
            self.on_send_error(conn, exc)
            return
        del owed[:sent]
        self.watch(conn)

    def send_some(self, conn: socket.socket, owed: bytearray) -> int:
        try:
            return conn.send(owed)
        except BlockingIOError:
            return 0

    def watch(self, conn: socket.socket) -> None:
        """Wait for what conn needs now: reads until EOF, writability while echo is owed."""
        owed = len(self.buffer_of(conn))
        if conn in self.draining and not owed:
            self.finish(conn)
            return
        backed_up = self.high_water is not None and owed >= self.high_water
        events = (0 if conn in self.draining or backed_up else READ) | (WRITE if owed else 0)
        self.selector.modify(conn, events, conn)

    # -- ending a connection ---------------------------------------------------------------
    def finish(self, conn: socket.socket) -> None:
        """Hook: EOF was seen and everything owed is sent."""
        self.close(conn)

    def on_recv_error(self, conn: socket.socket, exc: OSError) -> None:
        self.on_error(conn, exc)

    def on_send_error(self, conn: socket.socket, exc: OSError) -> None:
        self.on_error(conn, exc)

    def on_error(self, conn: socket.socket, exc: OSError) -> None:
        self.close(conn)

    def close(self, conn: socket.socket) -> None:
        self.forget(conn)
        conn.close()

    def forget(self, conn: socket.socket) -> None:
        """Stop watching conn and drop its state, without closing it."""
        self.selector.unregister(conn)
        del self.out[conn]
        self.draining.discard(conn)

    def park(self, conn: socket.socket) -> None:
        """Forget conn but keep it referenced, so its fd stays open (no GC close)."""
        self.forget(conn)
        self.parked.append(conn)


def run(server_cls: type[EchoServer]) -> None:
    args = parse_args(server_cls.__doc__ or "echo server")
    server_cls.install_signal_handlers()
    server_cls(server_cls.listen(args.host, args.port)).serve_forever()

"""The client side of spec MODEL-1: actions on many connections, each checked as it happens.

Rules this module keeps:
- Connection k writes only bytes of its own stream, ``stream(k, offset, size)``: no two
  connections send the same bytes, so a byte that reaches the wrong connection is caught.
- The model of a connection is what the kernel took from it (``sent``) and what came back
  (``received``): received is always a prefix of sent; EOF comes only after the client's FIN
  and once received == sent; the server never resets it. Every recv() is checked at once.
- Nothing blocks: writes are non-blocking (what the kernel refuses stays queued and goes out
  in later steps, the FIN after it), and every wait has a deadline.
- Standard library, ``conformance.harness.client``, ``.procfs``, ``.waiting`` and
  ``.addresses`` (all stdlib only): a failing example is written out as a standalone script
  that embeds all five modules (``model.replay_script``), so the conformance run and the
  replay perform the same steps.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import os
import select
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import astuple, dataclass
from typing import TypeVar

from conformance.harness import procfs
from conformance.harness.addresses import IPV4_LOOPBACK
from conformance.harness.client import (
    RECV_CHUNK,
    ClientError,
    abort_with_rst,
    connect,
    echo_round_trip,
    first_difference,
    preview,
)
from conformance.harness.waiting import scaled, wait_until

T = TypeVar("T")

SOME_WAIT = 0.2  # a read-some step waits this long for the first byte of owed echo
ALL_DEADLINE = 10.0  # a read-all step gets everything owed within this
STALL = 1.0  # ... and fails sooner once nothing has moved on its connection for this long
RESET_MAX = 4096  # bytes sent by a connection reset before accept()
WRITE_PATIENCE = 0.1  # a write step stops once the kernel has taken nothing for this long
# A small receive buffer: a client that stops reading soon leaves the echo in the server's
# hands (its send buffer, then its own buffer), where flushing and closing defects live.
WINDOW = 16 << 10
FD_DEADLINE = 2.0
PUMP_INTERVAL = 0.05
BLOCK = 64  # bytes of stream per hash
UNACCEPTED = -1  # the stream of the connections reset before accept()


@dataclass(frozen=True)
class Step:
    """One client action: ``action`` on connection ``conn`` (by number), with sizes."""

    action: str
    conn: int = -1
    sizes: tuple[int, ...] = ()


def stream(number: int, offset: int, size: int) -> bytes:
    """Bytes ``offset`` to ``offset + size`` of connection ``number``'s stream: all 256 byte
    values, fixed for ever (a hash in counter mode), so a replay sends the same bytes."""
    first, last = offset // BLOCK, (offset + size - 1) // BLOCK + 1
    blocks = b"".join(
        hashlib.blake2b(f"{number}:{i}".encode(), digest_size=BLOCK).digest()
        for i in range(first, last)
    )
    start = offset - first * BLOCK
    return blocks[start : start + size]


class Connection:
    """One client connection and its model: what was sent, what came back, how it ended."""

    def __init__(self, number: int, sock: socket.socket) -> None:
        self.number, self.sock = number, sock
        self.sent = bytearray()  # what the kernel took, in order
        self.received = bytearray()
        self.queued: deque[memoryview] = deque()  # writes not yet taken, one per write
        self.reading = True  # False: the client has stopped reading for a while
        self.fin_wanted = self.fin_sent = self.eof = False

    @property
    def owed(self) -> int:
        return len(self.sent) - len(self.received)

    @property
    def progress(self) -> int:
        return len(self.sent) + len(self.received) + self.fin_sent + self.eof

    def describe(self) -> str:
        queued = sum(len(v) for v in self.queued)
        fin = ", FIN sent" if self.fin_sent else ", FIN queued" if self.fin_wanted else ""
        return (
            f"connection {self.number}: wrote {len(self.sent)} bytes ({queued} more queued)"
            f"{fin}, received {len(self.received)}"
        )

    def queue(self, sizes: Sequence[int]) -> None:
        offset = len(self.sent) + sum(len(v) for v in self.queued)
        for size in sizes:
            self.queued.append(memoryview(stream(self.number, offset, size)))
            offset += size

    def write(self) -> bool:
        """One send() of the first queued write, or the FIN once nothing is queued."""
        if not self.queued:
            if self.fin_wanted and not self.fin_sent:
                self._call(lambda: self.sock.shutdown(socket.SHUT_WR), "shutdown(SHUT_WR)")
                self.fin_sent = True
                return True
            return False
        head = self.queued[0]
        taken = self._call(lambda: self.sock.send(head), "send()") or 0
        self.sent += head[:taken]
        self.queued[0] = head[taken:]
        if not self.queued[0]:
            self.queued.popleft()
        return taken > 0

    def read(self, limit: int, whose: Callable[[bytes], str]) -> bool:
        """One recv() of up to ``limit`` bytes, checked against the model at once."""
        data = self._call(lambda: self.sock.recv(limit), "recv()")
        if data is None:
            return False
        if not data:
            self.eof = True
            if not self.fin_sent:
                raise ClientError(f"EOF before the client's FIN; {self.describe()}")
            if self.owed:
                raise ClientError(f"EOF with {self.owed} bytes of echo missing; {self.describe()}")
            return True
        expected = bytes(self.sent[len(self.received) : len(self.received) + len(data)])
        if data != expected:
            at = len(self.received)
            wrong = next(
                (i for i, (a, b) in enumerate(zip(expected, data, strict=False)) if a != b), None
            )
            raise ClientError(
                f"bytes {at}..{at + len(data)} of the echo are not what was sent "
                f"({first_difference(expected, data)})"
                f"{whose(data[len(expected) if wrong is None else wrong :])}; {self.describe()}"
            )
        self.received += data
        return True

    def _call(self, call: Callable[[], T], what: str) -> T | None:
        try:
            return call()
        except BlockingIOError:
            return None
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, str(exc))
            raise ClientError(
                f"{what} failed with {name}: the server reset or ended the connection; "
                + self.describe()
            ) from None


class Session:
    """Connections to one server, driven step by step; ``steps`` is what was done so far."""

    def __init__(
        self,
        address: tuple[str, int],
        paused: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.address, self.paused = address, paused
        self.connections: list[Connection] = []  # by number, closed ones included
        self.open: list[Connection] = []
        self.steps: list[Step] = []
        self.failed = False

    def perform(self, step: Step) -> None:
        """Do one step, then let every reading connection take what has arrived."""
        self.steps.append(step)
        try:
            getattr(self, f"do_{step.action}")(step)
            self.pump(0.0)
        except BaseException:
            self.failed = True
            raise

    def track(self, step: Step) -> None:
        """Only the bookkeeping of ``step``, no I/O: which connections are open and which
        have half-closed (what the model's rules choose from). The model's dry runs use it."""
        self.steps.append(step)
        if step.action == "connect":
            conn = Connection(len(self.connections), socket.socket())  # never connected
            self.connections.append(conn)
            self.open.append(conn)
        elif step.action in ("close", "reset"):
            conn = self.connections[step.conn]
            self.open.remove(conn)
            conn.sock.close()
        elif step.action == "half_close":
            self.connections[step.conn].fin_wanted = True

    # -- the actions -----------------------------------------------------------------------
    def do_connect(self, step: Step) -> None:
        sock = connect(self.address, rcvbuf=WINDOW)
        sock.setblocking(False)
        conn = Connection(len(self.connections), sock)
        self.connections.append(conn)
        self.open.append(conn)

    def do_send(self, step: Step) -> None:
        conn = self.connections[step.conn]
        conn.queue(step.sizes)
        self.drive(conn, lambda: not conn.queued, stall=WRITE_PATIENCE)

    def do_read_some(self, step: Step) -> None:
        conn = self.connections[step.conn]
        if conn.eof:
            return
        waiting = conn.owed > 0 or conn.fin_sent
        if select.select([conn.sock], [], [], scaled(SOME_WAIT) if waiting else 0.0)[0]:
            conn.read(step.sizes[0], self.whose)

    def do_read_all(self, step: Step) -> None:
        """Everything owed (after a FIN: and then EOF), writing what is still queued."""
        conn = self.connections[step.conn]
        conn.reading = True
        if conn.fin_wanted:
            done = self.drive(conn, lambda: conn.eof)
        else:
            done = self.drive(conn, lambda: not conn.queued and not conn.owed)
        if not done:
            then = " and EOF" if conn.fin_wanted else ""
            raise ClientError(
                f"the echo owed{then} did not come within {ALL_DEADLINE:g} s (or nothing moved "
                f"for {STALL:g} s); {conn.describe()}"
            )

    def do_half_close(self, step: Step) -> None:
        conn = self.connections[step.conn]
        conn.fin_wanted = True
        self.drive(conn, lambda: conn.fin_sent, stall=WRITE_PATIENCE)

    def do_close(self, step: Step) -> None:
        """Close after reading all that is owed (a FIN, never a reset)."""
        self.do_read_all(step)
        conn = self.connections[step.conn]
        self.open.remove(conn)
        conn.sock.close()

    def do_reset(self, step: Step) -> None:
        conn = self.connections[step.conn]
        self.open.remove(conn)
        abort_with_rst(conn.sock)

    def do_reset_before_accept(self, step: Step) -> None:
        """Connect, send ``sizes[0]`` bytes (at most RESET_MAX) and reset while the server is
        stopped."""
        with self.paused():
            sock = connect(self.address)
            with contextlib.suppress(OSError):
                sock.send(stream(UNACCEPTED, 0, step.sizes[0]))
            abort_with_rst(sock)

    def do_stop_reading(self, step: Step) -> None:
        self.connections[step.conn].reading = False

    def do_finish(self, step: Step) -> None:
        """Every open connection half-closes and reads all owed, then EOF, and is closed;
        then as many newcomers as there were connections, open at once, get one echo each:
        they take the fd numbers just freed, and with them any state left behind."""
        for conn in self.open:
            conn.fin_wanted = conn.reading = True
        for conn in list(self.open):
            self.do_read_all(Step("read_all", conn.number))
            self.open.remove(conn)
            conn.sock.close()
        with contextlib.ExitStack() as stack:
            newcomers = [stack.enter_context(connect(self.address)) for _ in self.connections]
            for n, newcomer in enumerate(newcomers):
                echo_round_trip(newcomer, f"newcomer {n}".encode())

    # -- moving bytes ----------------------------------------------------------------------
    def pump(self, wait: float) -> None:
        """One pass: write where writable, read where readable, waiting at most ``wait``."""
        writers = [c.sock for c in self.open if c.queued or (c.fin_wanted and not c.fin_sent)]
        readers = [c.sock for c in self.open if c.reading and not c.eof]
        if not writers and not readers:
            return
        readable, writable, _ = select.select(readers, writers, [], wait)
        for conn in list(self.open):
            if conn.sock in writable:
                conn.write()
            if conn.sock in readable:
                conn.read(RECV_CHUNK, self.whose)

    def drive(self, conn: Connection, done: Callable[[], bool], stall: float = STALL) -> bool:
        """Pump until ``done()``, for at most ALL_DEADLINE and while ``conn`` keeps moving."""
        deadline = time.monotonic() + scaled(ALL_DEADLINE)
        last, moved_at = conn.progress, time.monotonic()
        while not done():
            now = time.monotonic()
            if now >= deadline or now - moved_at >= scaled(stall):
                return False
            self.pump(PUMP_INTERVAL)
            if conn.progress != last:
                last, moved_at = conn.progress, time.monotonic()
        return True

    def whose(self, wrong: bytes) -> str:
        """Whose stream some wrong bytes came from, if any: the evidence of crossed
        connections, or of a buffer left over from an earlier connection."""
        probe = wrong[:16]
        if len(probe) >= 4:
            for other in self.connections:
                if (at := other.sent.find(probe)) >= 0:
                    return f"; they are bytes {at}.. of connection {other.number}'s stream"
            if (at := stream(UNACCEPTED, 0, RESET_MAX).find(probe)) >= 0:
                return f"; they are bytes {at}.. of what a connection reset before accept() sent"
        return f"; the wrong bytes: {preview(wrong)}"

    def close_all(self) -> None:
        """Reset whatever is still open: the end of an example, passed or failed."""
        for conn in self.open:
            abort_with_rst(conn.sock)
        self.open.clear()


# -- the standalone replay ------------------------------------------------------------------


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(lambda: procfs.stopped(pid), 2.0, "server to stop on SIGSTOP", interval=0.001)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def connections_held(pid: int) -> int:
    """TCP connection sockets held by the process group of ``pid`` (a forking server's
    children hold its connections)."""
    return len(procfs.tcp_connection_sockets(procfs.group_pids(os.getpgid(pid))))


def main(
    steps: Sequence[tuple[str, int, tuple[int, ...]]], argv: Sequence[str] | None = None
) -> int:
    """Replay ``steps`` (each a Step as a tuple); exit status 1 on the first violation."""
    parser = argparse.ArgumentParser(description="Replay a MODEL-1 example (see its docstring).")
    parser.add_argument("--host", default=IPV4_LOOPBACK, help="an IPv4 or IPv6 address")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--pid",
        type=int,
        help="the server's pid: stop it for resets before accept() as the "
        "suite does, and check that its TCP connection sockets are back at the start's count "
        "at the end",
    )
    args = parser.parse_args(argv)
    session = Session(
        (args.host, args.port), lambda: stopped(args.pid) if args.pid else contextlib.nullcontext()
    )
    baseline = connections_held(args.pid) if args.pid else 0
    # The example's end, as the model does it, unless the failure was seen there.
    ending = [] if steps and steps[-1][0] == "finish" else [astuple(Step("finish"))]
    try:
        for n, fields in enumerate([*steps, *ending], 1):
            step = Step(*fields)
            print(f"step {n}/{len(steps) + len(ending)}: {astuple(step)}", flush=True)
            session.perform(step)
        if args.pid:
            wait_until(
                lambda: connections_held(args.pid) <= baseline,
                FD_DEADLINE,
                f"the server's TCP connection sockets back at {baseline}, its count at the start",
                lambda: f"{connections_held(args.pid)} TCP connection sockets open",
            )
    except AssertionError as exc:
        print(f"FAILED at step {len(session.steps)}: {exc}", file=sys.stderr)
        return 1
    finally:
        session.close_all()
    print("every step kept to the echo model")
    return 0

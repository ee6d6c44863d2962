"""Closed-loop round trips on many connections at once, timed per connection.

Rules this module keeps:
- One thread drives every connection through one selector: the client's own scheduling adds
  no unfairness, and there is no thread to leak.
- Each connection's messages are its own (they carry its index and round), so an echo sent to
  the wrong connection is a wrong echo, not a slow one.
- Bounded: a deadline for the whole run, and at most one message in flight per connection.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass, field

from conformance.harness.client import ClientError, first_difference
from conformance.harness.waiting import scaled


def message(index: int, round_no: int, size: int) -> bytes:
    """``size`` bytes that say which connection and round they belong to."""
    tag = f"<{index}:{round_no}>".encode()
    return (tag * (size // len(tag) + 1))[:size]


@dataclass
class _Loop:
    """One connection doing its round trips: send a message, read its echo, repeat."""

    sock: socket.socket
    index: int
    rounds: int
    size: int
    done_round: int = 0
    unsent: bytes = b""
    received: bytearray = field(default_factory=bytearray)
    finished_at: float | None = None

    def start_round(self) -> None:
        self.unsent = message(self.index, self.done_round, self.size)
        self.received.clear()

    def on_writable(self) -> None:
        self.unsent = self.unsent[self.sock.send(self.unsent) :]

    def on_readable(self, now: float) -> None:
        data = self.sock.recv(self.size - len(self.received))
        if not data:
            raise ClientError(f"connection {self.index}: EOF in round {self.done_round}")
        self.received += data
        if len(self.received) < self.size:
            return
        expected = message(self.index, self.done_round, self.size)
        if self.received != expected:
            diff = first_difference(expected, bytes(self.received))
            raise ClientError(f"connection {self.index}, round {self.done_round}: {diff}")
        self.done_round += 1
        if self.done_round == self.rounds:
            self.finished_at = now
        else:
            self.start_round()


def round_trips(conns: list[socket.socket], rounds: int, size: int, timeout: float) -> list[float]:
    """Each connection does ``rounds`` round trips of ``size`` bytes, all concurrently.

    Returns the seconds each connection took to finish, in ``conns`` order. A wrong echo, an
    EOF, a reset, or not finishing within ``timeout`` raises ClientError saying which.
    """
    loops = [_Loop(sock, i, rounds, size) for i, sock in enumerate(conns)]
    selector = selectors.DefaultSelector()
    start = time.monotonic()
    deadline = start + scaled(timeout)
    for loop in loops:
        loop.sock.setblocking(False)
        loop.start_round()
        selector.register(loop.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, loop)
    pending = len(loops)
    progress_at_first_finish: list[int] = []
    try:
        while pending and (remaining := deadline - time.monotonic()) > 0:
            for key, events in selector.select(remaining):
                loop = key.data
                try:
                    if events & selectors.EVENT_WRITE and loop.unsent:
                        loop.on_writable()
                    if events & selectors.EVENT_READ:
                        loop.on_readable(time.monotonic())
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    raise ClientError(f"connection {loop.index}: {exc}") from None
                if loop.finished_at is not None:
                    if not progress_at_first_finish:
                        progress_at_first_finish = [other.done_round for other in loops]
                    selector.unregister(loop.sock)
                    pending -= 1
                else:
                    wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if loop.unsent else 0)
                    selector.modify(loop.sock, wanted, loop)
    finally:
        selector.close()
        for loop in loops:
            loop.sock.setblocking(True)
    late = [loop for loop in loops if loop.finished_at is None]
    if late:
        rounds_done = sorted(loop.done_round for loop in late)
        raise ClientError(
            f"{len(late)} of {len(loops)} connections not done within {timeout:g} s "
            f"(rounds done by them: {rounds_done[:10]}{'...' if len(late) > 10 else ''})"
        )
    return [loop.finished_at - start for loop in loops if loop.finished_at is not None]

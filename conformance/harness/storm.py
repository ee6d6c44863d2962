"""A storm of short sessions from many concurrent clients, mixing every way a session ends.

Rules this module keeps:
- Bounded: a fixed number of sessions and of worker threads, and a time budget after which
  no new session starts; every socket operation has a deadline.
- Each session's bytes are its own (they name the session), so a mixed-up echo is caught.
- A session that fails is reported with its kind and what it saw; it does not stop the storm.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from conformance.harness.client import (
    SMALL_WINDOW,
    ClientError,
    Ending,
    abort_with_rst,
    connect,
    echo_round_trip,
    recv_exactly,
    recv_until_eof,
)
from conformance.harness.waiting import scaled

SMALL, OWED = 1024, 64 << 10
SESSION_DEADLINE = 5.0


def _payload(index: int, size: int) -> bytes:
    tag = f"<session {index}>".encode()
    return (tag * (size // len(tag) + 1))[:size]


def graceful(address: tuple[str, int], index: int) -> None:
    payload = _payload(index, SMALL)
    with connect(address) as client:
        client.sendall(payload)
        if (echo := recv_exactly(client, SMALL, SESSION_DEADLINE)) != payload:
            raise ClientError(f"wrong echo: {echo[:40]!r}...")


def half_close_with_echo_owed(address: tuple[str, int], index: int) -> None:
    payload = _payload(index, OWED)
    with connect(address) as client:
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        seen = recv_until_eof(client, SESSION_DEADLINE, limit=OWED + SMALL, sent=payload)
    seen.assert_echoed(then=Ending.EOF)


def reset_when_idle(address: tuple[str, int], index: int) -> None:
    with connect(address) as client:
        echo_round_trip(client, _payload(index, 16), SESSION_DEADLINE)
        abort_with_rst(client)


def reset_with_echo_owed(address: tuple[str, int], index: int) -> None:
    with connect(address, rcvbuf=SMALL_WINDOW) as client:
        client.sendall(_payload(index, OWED))
        abort_with_rst(client)


def reset_before_accept(address: tuple[str, int], index: int) -> None:
    with connect(address) as client:
        abort_with_rst(client)


def close_without_reading(address: tuple[str, int], index: int) -> None:
    with connect(address, rcvbuf=SMALL_WINDOW) as client:
        client.sendall(_payload(index, OWED))
    # close() with the echo unread: the server's send meets EPIPE or a reset


KINDS: tuple[Callable[[tuple[str, int], int], None], ...] = (
    graceful,
    half_close_with_echo_owed,
    reset_when_idle,
    reset_with_echo_owed,
    reset_before_accept,
    close_without_reading,
)


@dataclass
class StormResult:
    started: int
    failures: list[str]
    unconnected: list[str]  # the server's kernel never established them: ACCEPT-2's business
    seconds: float


def run_storm(address: tuple[str, int], sessions: int, workers: int, budget: float) -> StormResult:
    """Run ``sessions`` sessions, cycling through KINDS, on ``workers`` threads at once.

    Sessions not started within ``budget`` seconds are skipped.
    """
    start = time.monotonic()
    stop_at = start + scaled(budget)
    failures: list[str] = []
    unconnected: list[str] = []
    started: list[int] = []  # list.append is atomic across threads; += on an int is not

    def session(index: int) -> None:
        if time.monotonic() > stop_at:
            return
        started.append(index)
        kind = KINDS[index % len(KINDS)]
        try:
            kind(address, index)
        except (AssertionError, OSError) as exc:
            where = unconnected if _never_connected(exc) else failures
            where.append(f"session {index} ({kind.__name__}): {exc}")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(session, range(sessions)))
    return StormResult(len(started), failures, unconnected, time.monotonic() - start)


def _never_connected(exc: BaseException) -> bool:
    """A connect that timed out, or a connection the server's kernel dropped before it was
    established (ENOTCONN): a full accept queue, which is what ACCEPT-2 is about."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOTCONN
    return str(exc).startswith("connect to ")

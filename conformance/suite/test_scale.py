"""MUX: under load a server keeps its memory bounded and serves thousands of connections.

Each test starts its own server and moves hundreds of MiB or opens thousands of sockets, so
they share the xdist group "heavy": under ``--dist loadgroup`` they run one after another on
one worker instead of competing for the cores with each other.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from conformance.harness import fdlimit
from conformance.harness.checks import assert_alive, resident_memory
from conformance.harness.client import (
    RECV_CHUNK,
    SMALL_WINDOW,
    ClientError,
    abort_with_rst,
    connect,
    connect_nonblocking,
    echo_round_trip,
    exchange_many,
    first_difference,
)
from conformance.harness.server import ServerProcess
from conformance.harness.waiting import scaled
from conformance.plugin import Launcher

MiB = 1 << 20
PUSH_LIMIT = 256 * MiB
PUSH_STALL = 0.5  # seconds without send progress: the server has stopped taking bytes
PUSH_DEADLINE = 20.0  # the whole push, whatever the server does
MEMORY_SAMPLE_EVERY = 4 * MiB  # written between two readings of the server's VmRSS
MEMORY_GROWTH_LIMIT = 64 * MiB
READ_BACK_DEADLINE = 20.0
READ_BACK_STALL = 2.0
# The pushed stream repeats with this period, which no chunk size divides: a byte lost,
# repeated or reordered anywhere shows as a mismatch.
PERIOD = MiB + 3
# Printable: a server that decodes UTF8 fails ECHO-2 for it, not this clause.
ASCII = bytes(0x21 + i % 94 for i in range(256))

SCALE_STEPS = (1100, 5000)
BATCH = 100  # connections opened at a time: inside any SOMAXCONN (128 on old kernels)
FD_MARGIN = 64  # descriptors a server needs besides its connections (the client: a few)
# A runtime may hold descriptors of its own per connection: Go's io.Copy between two TCP
# connections splices through a pipe pair from a pool, so each open connection holds three.
FDS_PER_CONNECTION = 3
BATCH_DEADLINE = 3.0  # a batch's echoes: a dropped SYN is retried after 1 s, and may make it
BATCH_STALL = 1.0  # a batch in which nothing moves for this long is not going to make it
ROUND_DEADLINE = 10.0  # thousands of echoes at once (a thread per connection: a few seconds)
ROUND_STALL = 2.0
SCALE_DEADLINE = 35.0  # no new batch after this: the test ends within it plus one round


class PatternStream:
    """An endless stream of printable bytes: byte i is pattern[i % PERIOD]."""

    def __init__(self) -> None:
        pattern = random.Random(2).randbytes(PERIOD).translate(ASCII)
        self._doubled = memoryview(pattern + pattern[:RECV_CHUNK])

    def at(self, offset: int, size: int) -> memoryview:
        """``size`` (at most RECV_CHUNK) bytes of the stream from ``offset``."""
        start = offset % PERIOD
        return self._doubled[start : start + size]


@dataclass
class Push:
    written: int = 0
    growth: int = 0  # the most the server's memory was seen above its baseline
    stalled: bool = False


def push_without_reading(
    sock: socket.socket, server: ServerProcess, stream: PatternStream, baseline: int
) -> Push:
    """Write the stream, never reading, until send() makes no progress for PUSH_STALL s,
    PUSH_LIMIT is written, or the server's memory has grown past the limit (the verdict is
    known then, and the machine's memory is spared)."""
    push = Push()
    stall, deadline = scaled(PUSH_STALL), time.monotonic() + scaled(PUSH_DEADLINE)
    sample_at = 0
    sock.setblocking(False)
    try:
        while push.written < PUSH_LIMIT and time.monotonic() < deadline:
            if push.written >= sample_at:
                push.growth = max(push.growth, resident_memory(server) - baseline)
                if push.growth >= MEMORY_GROWTH_LIMIT:
                    break
                sample_at += MEMORY_SAMPLE_EVERY
            try:
                size = min(RECV_CHUNK, PUSH_LIMIT - push.written)
                push.written += sock.send(stream.at(push.written, size))
            except BlockingIOError:
                if not select.select([], [sock], [], stall)[1]:
                    push.stalled = True
                    break
    except OSError as exc:
        raise ClientError(
            f"the server ended the connection after {push.written} bytes: {exc}"
        ) from None
    finally:
        sock.setblocking(True)
    push.growth = max(push.growth, resident_memory(server) - baseline)
    return push


def read_back(sock: socket.socket, stream: PatternStream, size: int) -> None:
    """Read ``size`` bytes of echo, each checked against the stream as it arrives."""
    received, buffer = 0, memoryview(bytearray(RECV_CHUNK))
    deadline = time.monotonic() + scaled(READ_BACK_DEADLINE)
    while received < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClientError(
                f"{received} of {size} bytes of echo within {scaled(READ_BACK_DEADLINE):g} s"
            )
        sock.settimeout(min(scaled(READ_BACK_STALL), remaining))
        try:
            n = sock.recv_into(buffer, min(RECV_CHUNK, size - received))
        except TimeoutError:
            raise ClientError(
                f"the echo stopped after {received} of {size} bytes: nothing for "
                f"{scaled(READ_BACK_STALL):g} s"
            ) from None
        except OSError as exc:
            raise ClientError(f"{exc} after {received} of {size} bytes of echo") from None
        if not n:
            raise ClientError(f"EOF after {received} of {size} bytes of echo")
        expected = stream.at(received, n)
        if buffer[:n] != expected:
            raise ClientError(
                f"in bytes {received}-{received + n} of the {size} echoed: "
                + first_difference(bytes(expected), bytes(buffer[:n]))
            )
        received += n


@pytest.mark.clause("MUX-2")
@pytest.mark.xdist_group("heavy")
def test_memory_stays_bounded_under_a_client_that_never_reads(launch: Launcher) -> None:
    """MUX-2: a failure means the server buffers without limit what a client does not read
    (no high-water mark: reading goes on while the out-buffer grows)."""
    server = launch()
    stream = PatternStream()
    with connect(server.address, rcvbuf=SMALL_WINDOW) as client:
        echo_round_trip(client, b"before the push")  # the server's lazy allocations are done
        baseline = resident_memory(server)
        push = push_without_reading(client, server, stream, baseline)
        assert push.growth < MEMORY_GROWTH_LIMIT, (
            f"the server's memory grew by {push.growth / MiB:.0f} MiB while a client wrote "
            f"{push.written / MiB:.0f} MiB without reading (limit {MEMORY_GROWTH_LIMIT // MiB} MiB)"
        )
        assert push.stalled, (
            f"the client wrote {push.written / MiB:.0f} MiB without reading and its send never "
            "stalled: the server takes whatever is sent"
        )
        read_back(client, stream, push.written)
        abort_with_rst(client)  # no TIME_WAIT left behind


def echo_each(
    server: ServerProcess,
    clients: list[socket.socket],
    first: int,
    tag: str,
    timeout: float,
    stall: float,
) -> None:
    """Every client echoes its own message (numbered from ``first``), all at once."""
    messages = [f"{tag} {first + i}".encode() for i in range(len(clients))]
    transcripts = exchange_many(list(zip(clients, messages, strict=True)), timeout, stall=stall)
    failed = {first + i: t for i, t in enumerate(transcripts) if bytes(t.received) != t.sent}
    if failed:
        assert_alive(server)
        endings = Counter(t.ending.value for t in failed.values())
        how = ", ".join(f"{n} {ending}" for ending, n in endings.most_common())
        index, transcript = min(failed.items())
        raise ClientError(
            f"{len(failed)} of {len(clients)} connections got no echo ({how}); "
            f"connection {index}: {transcript.describe()}"
        )


@pytest.mark.clause("MUX-5")
@pytest.mark.xdist_group("heavy")
def test_thousands_of_concurrent_connections_all_echo(launch: Launcher) -> None:
    """MUX-5: a failure means the server cannot watch that many connections at once (select()
    and FD_SETSIZE), refuses them, or dies."""
    most = SCALE_STEPS[-1]
    with fdlimit.room_for(most + FD_MARGIN), contextlib.ExitStack() as stack:
        server = launch(fd_limit=most * FDS_PER_CONNECTION + FD_MARGIN)
        clients: list[socket.socket] = []
        deadline = time.monotonic() + scaled(SCALE_DEADLINE)
        for target in SCALE_STEPS:
            while len(clients) < target:
                if time.monotonic() > deadline:
                    raise ClientError(
                        f"only {len(clients)} connections open, each echoing, after "
                        f"{scaled(SCALE_DEADLINE):g} s: too slow to reach {target}"
                    )
                batch = []
                for _ in range(min(BATCH, target - len(clients))):
                    batch.append(connect_nonblocking(server.address))
                    stack.callback(abort_with_rst, batch[-1])  # no TIME_WAIT left behind
                with _context(f"with {len(clients)} connections open, {len(batch)} more"):
                    echo_each(
                        server, batch, len(clients), "connection", BATCH_DEADLINE, BATCH_STALL
                    )
                clients += batch
            with _context(f"all {target} connections at once"):
                echo_each(server, clients, 0, "again", ROUND_DEADLINE, ROUND_STALL)


@contextlib.contextmanager
def _context(where: str) -> Iterator[None]:
    """A client failure inside the block names where in the ramp it happened."""
    try:
        yield
    except ClientError as exc:
        raise ClientError(f"{where}: {exc}") from None

"""Client-side helpers: what the suite does to a server, and what it sees back.

Rules this module keeps:
- Every operation has a deadline; nothing blocks forever on a server that never answers.
- Nothing buffers without bound: a server that floods bytes nobody asked for is read up to a cap
  and reported with what it sent.
- Failures are AssertionErrors whose message shows the bytes and the way the connection ended,
  so a misbehaving server yields a FAIL with evidence, never a harness error.
"""

from __future__ import annotations

import enum
import errno
import select
import selectors
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from conformance.harness.addresses import display, family
from conformance.harness.waiting import scaled

CONNECT_TIMEOUT = 2.0
RECV_CHUNK = 65536
OVERFLOW_SLACK = 65536  # bytes beyond what is owed we read before calling it a flood
PREVIEW = 48
STALL = 2.0  # seconds without progress after which a transfer is declared stuck
SMALL_WINDOW = 64 << 10  # a client receive buffer that backs the echo up into the server


class ClientError(AssertionError):
    """What the client observed contradicts the spec; the message carries the evidence."""


class Ending(enum.Enum):
    EOF = "EOF"
    RESET = "reset"
    TIMEOUT = "timeout"
    OVERFLOW = "more bytes than were sent"
    OPEN = "still open"
    ERROR = "error"


def preview(data: bytes | bytearray) -> str:
    """A short, safe rendering of bytes for failure messages."""
    shown = bytes(data[:PREVIEW])
    more = f"... ({len(data)} bytes)" if len(data) > PREVIEW else f" ({len(data)} bytes)"
    return repr(shown) + more


def first_difference(expected: bytes, received: bytes) -> str:
    """Where two byte strings part, for a message that points at the bug."""
    for i, (a, b) in enumerate(zip(expected, received, strict=False)):
        if a != b:
            return (
                f"first difference at byte {i}: sent {preview(expected[i : i + 16])}, "
                f"got {preview(received[i : i + 16])}"
            )
    if len(received) < len(expected):
        return f"{len(expected) - len(received)} of {len(expected)} bytes missing at the end"
    if len(received) > len(expected):
        return f"{len(received) - len(expected)} extra bytes: {preview(received[len(expected) :])}"
    return "identical"


def _client_socket(address: tuple[str, int]) -> socket.socket:
    sock = socket.socket(family(address[0]))
    # Small writes must leave at once: an echo clause times the reply, not Nagle's delay.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def connect(
    address: tuple[str, int],
    timeout: float = CONNECT_TIMEOUT,
    rcvbuf: int | None = None,
    source_port: int | None = None,
) -> socket.socket:
    """A connected client socket with Nagle off; ``rcvbuf`` caps the window it advertises;
    ``source_port`` is bound before connect(), so that the server can be told which
    connection is which (the fault interposer targets one by its peer port).

    A small receive buffer makes the server's echo back up into the server: its send()
    returns short and it owes bytes, which is what partial-send and flush clauses need.
    Loopback buffers otherwise grow to tens of MiB and hide those paths. It must be set
    before connect(), since the window scale is fixed by the handshake.
    """
    sock = _client_socket(address)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if source_port is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address[0], source_port))
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError as exc:
        sock.close()
        raise ClientError(f"connect to {display(*address)} failed: {exc}") from None
    return sock


def abort_with_rst(sock: socket.socket) -> None:
    """Close so that the kernel sends RST instead of FIN (SO_LINGER on, timeout 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def half_close(sock: socket.socket) -> None:
    """Send FIN: the client will write no more but still reads (shutdown(SHUT_WR))."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError as exc:  # ENOTCONN: the server already reset the connection
        raise ClientError(
            f"half-close failed, the server had ended the connection: {exc}"
        ) from None


@dataclass
class Transcript:
    """What one client sent, what came back and how the connection ended."""

    sent: bytes
    received: bytearray = field(default_factory=bytearray)
    ending: Ending = Ending.OPEN
    error: str = ""
    bytes_written: int = 0

    def describe(self) -> str:
        how = f"{self.ending.value} ({self.error})" if self.error else self.ending.value
        wrote = f"wrote {self.bytes_written} of {len(self.sent)} bytes, " if self.sent else ""
        return f"{wrote}received {preview(self.received)}, connection: {how}"

    def assert_echoed(self, then: Ending | None = None) -> None:
        """All bytes came back unchanged (and then, if given, the connection ended so)."""
        if bytes(self.received) != self.sent:
            raise ClientError(
                f"echo differs: {first_difference(self.sent, bytes(self.received))}; "
                + self.describe()
            )
        if then is not None and self.ending is not then:
            raise ClientError(f"expected {then.value} after the echo; {self.describe()}")


def _ending_of(exc: OSError) -> tuple[Ending, str]:
    if exc.errno in (errno.ECONNRESET, errno.EPIPE):
        return Ending.RESET, errno.errorcode[exc.errno]
    name = errno.errorcode.get(exc.errno or 0, str(exc))
    return Ending.ERROR, name


@dataclass
class _Flow:
    sock: socket.socket
    transcript: Transcript
    half_close: bool
    unsent: memoryview = field(init=False)
    done: bool = False

    def __post_init__(self) -> None:
        self.unsent = memoryview(self.transcript.sent)

    def finish(self, ending: Ending, error: str = "") -> None:
        self.transcript.ending, self.transcript.error, self.done = ending, error, True

    def write(self) -> None:
        try:
            n = self.sock.send(self.unsent[:RECV_CHUNK])
        except BlockingIOError:
            return
        except OSError as exc:
            self.finish(*_ending_of(exc))
            return
        self.unsent = self.unsent[n:]
        self.transcript.bytes_written += n
        if not self.unsent and self.half_close:
            try:
                self.sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                self.finish(*_ending_of(exc))

    def read(self) -> None:
        received = self.transcript.received
        try:
            data = self.sock.recv(RECV_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            self.finish(*_ending_of(exc))
            return
        if not data:
            self.finish(Ending.EOF)
            return
        received += data
        if len(received) > len(self.transcript.sent) + OVERFLOW_SLACK:
            self.finish(Ending.OVERFLOW)
        elif not self.half_close and not self.unsent and len(received) >= len(self.transcript.sent):
            self.done = True  # everything owed is back; the connection stays open


def exchange_many(
    conversations: Sequence[tuple[socket.socket, bytes]],
    timeout: float,
    half_close: bool = False,
    stall: float | None = STALL,
) -> list[Transcript]:
    """Write each payload while reading its echo, all connections at once, in one thread.

    Without ``half_close`` a conversation ends once its echo is complete; with it, the client
    sends FIN after the last byte and reads until the server closes. Writing and reading
    together matters: a client that writes 16 MiB before reading deadlocks against any server.
    It gives up at ``timeout``, or once no byte has moved on any connection for ``stall``
    seconds (a silent server fails fast instead of using up the whole timeout).
    """
    selector = selectors.DefaultSelector()
    flows = []
    for sock, payload in conversations:
        sock.setblocking(False)
        flow = _Flow(sock, Transcript(sent=payload), half_close)
        flows.append(flow)
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, flow)
    timeout, stall = scaled(timeout), None if stall is None else scaled(stall)
    deadline = time.monotonic() + timeout
    pending = len(flows)
    gave_up = f"not done within {timeout:g} s"
    try:
        while pending and (remaining := deadline - time.monotonic()) > 0:
            ready = selector.select(remaining if stall is None else min(remaining, stall))
            if not ready and stall is not None and remaining > stall:
                gave_up = f"nothing moved for {stall:g} s"
                break
            for key, events in ready:
                flow = key.data
                if events & selectors.EVENT_WRITE and flow.unsent:
                    flow.write()
                if events & selectors.EVENT_READ and not flow.done:
                    flow.read()
                if flow.done:
                    selector.unregister(flow.sock)
                    pending -= 1
                elif not flow.unsent and events & selectors.EVENT_WRITE:
                    selector.modify(flow.sock, selectors.EVENT_READ, flow)
    finally:
        selector.close()
        for flow in flows:
            flow.sock.setblocking(True)
            flow.sock.settimeout(CONNECT_TIMEOUT)
            if not flow.done:
                flow.finish(Ending.TIMEOUT, gave_up)
    return [flow.transcript for flow in flows]


def assert_all_echoed(transcripts: Sequence[Transcript]) -> None:
    """Every client got exactly its bytes back; the first that did not is named."""
    for i, transcript in enumerate(transcripts):
        try:
            transcript.assert_echoed()
        except ClientError as exc:
            raise ClientError(f"client {i} of {len(transcripts)}: {exc}") from None


def exchange(
    sock: socket.socket,
    payload: bytes,
    timeout: float,
    half_close: bool = False,
    stall: float | None = STALL,
) -> Transcript:
    return exchange_many([(sock, payload)], timeout, half_close, stall)[0]


def _read(
    sock: socket.socket,
    timeout: float,
    stop_at: int,
    step: int = RECV_CHUNK,
    until: Callable[[], bool] | None = None,
) -> Transcript:
    """Read until ``stop_at`` bytes have come, ``until()`` holds, the connection ends, or
    ``timeout`` passes; ``step`` caps each recv()."""
    transcript = Transcript(sent=b"")
    received = transcript.received
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    try:
        while len(received) < stop_at and not (until and until()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                transcript.ending, transcript.error = Ending.TIMEOUT, f"after {timeout:g} s"
                break
            sock.settimeout(remaining)
            try:
                data = sock.recv(min(step, stop_at - len(received)))
            except TimeoutError:
                continue
            except OSError as exc:
                transcript.ending, transcript.error = _ending_of(exc)
                break
            if not data:
                transcript.ending = Ending.EOF
                break
            received += data
    finally:
        sock.settimeout(CONNECT_TIMEOUT)
    return transcript


def recv_exactly(sock: socket.socket, n: int, timeout: float) -> bytes:
    """Exactly ``n`` bytes within ``timeout``, or a ClientError saying what came instead."""
    transcript = _read(sock, timeout, n)
    if len(transcript.received) < n:
        raise ClientError(f"expected {n} bytes within {timeout:g} s; {transcript.describe()}")
    return bytes(transcript.received)


def recv_until_eof(
    sock: socket.socket, timeout: float, limit: int, sent: bytes = b"", received: bytes = b""
) -> Transcript:
    """Read until the server closes, at most ``limit`` bytes in all, within ``timeout``.

    ``sent`` is what the client wrote before, so the transcript can check the echo;
    ``received`` is echo already read, which the transcript starts with.
    """
    transcript = _read(sock, timeout, limit + 1 - len(received))
    transcript.sent, transcript.bytes_written = sent, len(sent)
    transcript.received[:0] = received
    if len(transcript.received) > limit:
        transcript.ending = Ending.OVERFLOW
    return transcript


def recv_in_steps(
    sock: socket.socket, step: int, until: Callable[[], bool], timeout: float, limit: int
) -> Transcript:
    """Read at most ``step`` bytes at a time, checking ``until()`` before each: a client that
    reads slowly on purpose, so that the server's writes keep meeting a full window."""
    return _read(sock, timeout, limit + 1, step, until)


def echo_round_trip(sock: socket.socket, payload: bytes, timeout: float = 1.0) -> None:
    """Send ``payload`` and require exactly it back (ClientError otherwise)."""
    try:
        sock.sendall(payload)
    except OSError as exc:
        raise ClientError(f"send of {preview(payload)} failed: {exc}") from None
    received = recv_exactly(sock, len(payload), timeout)
    if received != payload:
        raise ClientError(f"echo differs: {first_difference(payload, received)}")


def filler(size: int) -> bytes:
    """Plain ASCII bytes, for clauses about owing and closing rather than about byte values."""
    return (b"owed bytes; " * (size // 12 + 1))[:size]


def send_without_reading(sock: socket.socket, payload: bytes, patience: float = 0.0) -> int:
    """Write ``payload`` without reading any echo until the kernel pushes back.

    With ``patience`` the writing goes on while the server keeps taking bytes, and stops only
    once the socket has not become writable for that many seconds. Returns how many bytes
    were accepted (a prefix of ``payload``): the echo the server now owes, part of it still in
    flight. A reset by the server ends the writing; whether that is wrong is for the caller.
    """
    sock.setblocking(False)
    unsent = memoryview(payload)
    patience = scaled(patience)
    try:
        while unsent:
            try:
                unsent = unsent[sock.send(unsent[:RECV_CHUNK]) :]
            except BlockingIOError:
                if not patience or not select.select([], [sock], [], patience)[1]:
                    break
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        sock.setblocking(True)
        sock.settimeout(CONNECT_TIMEOUT)
    return len(payload) - len(unsent)


def connect_nonblocking(address: tuple[str, int]) -> socket.socket:
    """Start a connect and return at once: for bursts where the handshakes must overlap."""
    sock = _client_socket(address)
    sock.setblocking(False)
    sock.connect_ex(address)
    return sock


def assert_stays_open(sock: socket.socket, seconds: float) -> None:
    """Nothing arrives and the server does not close for ``seconds`` (an observation window)."""
    sock.settimeout(seconds)
    try:
        data = sock.recv(RECV_CHUNK)
    except TimeoutError:
        return
    except OSError as exc:
        raise ClientError(f"the server reset an idle connection: {exc}") from None
    finally:
        sock.settimeout(CONNECT_TIMEOUT)
    what = f"sent unasked bytes {preview(data)}" if data else "closed it (EOF)"
    raise ClientError(f"within {seconds:g} s of idling the server {what}")

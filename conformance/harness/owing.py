"""Making a server hold echo in its own buffer at a half-close, and reading it back after.

CLOSE-3 is about the bytes a server keeps in user space when the client's FIN arrives. The
kernel hides them well: with megabytes of socket buffer on each side, a server that drops its
out-buffer at EOF loses nothing whenever that buffer happens to be empty, and a client that
simply writes a lot and then drains at full speed leaves that to luck. So both helpers watch the
queues at the two ends of the connection (sock_diag: no help from the server needed):

- `fill_past_send_buffer` writes until the echo in the kernel stops growing by what the server
  reads: from then on the echo stays in the server's own buffer;
- `recv_flush_after_eof` reads only while the server has bytes left to read, so that whatever
  it reads last meets a full send queue, then lets it act on the EOF before reading the rest.
"""

from __future__ import annotations

import contextlib
import socket
import time

from conformance.harness.client import (
    Ending,
    Transcript,
    recv_in_steps,
    recv_until_eof,
    send_without_reading,
)
from conformance.harness.sockdiag import TCP_CLOSE_WAIT, TcpState, tcp_connection
from conformance.harness.waiting import DeadlineExceeded, wait_until

FILL_STEP = 64 << 10  # written at a time; a bounded server is expected to buffer at least this
READ_STEP = 16 << 10  # read at a time; a quarter of the client's window, which stays nearly full
SHORT_STEPS = 2  # steps in a row whose echo did not all reach the kernel: the send queue is full
CLOSE_GRACE = 0.5  # for a server that has read the FIN to close, if that is what it does
DIAG_POLL = 0.0005  # a lookup takes some 20 us; a server reads a step in well under 1 ms


class ConnectionEnds:
    """One client connection to the server, as the kernel shows its two ends."""

    def __init__(self, client: socket.socket) -> None:
        self.client_address: tuple[str, int] = client.getsockname()[:2]
        self.server_address: tuple[str, int] = client.getpeername()[:2]

    def server_end(self) -> TcpState | None:
        return tcp_connection(self.server_address, self.client_address)

    def client_end(self) -> TcpState | None:
        return tcp_connection(self.client_address, self.server_address)

    def echo_in_kernel(self) -> int:
        """Echo the server has sent that the client has not read: in flight or delivered."""
        server, client = self.server_end(), self.client_end()
        return (server.tx_queue if server else 0) + (client.rx_queue if client else 0)

    def server_has_read_all(self) -> bool:
        """Everything the client wrote has reached the server and the server has read it."""
        server, client = self.server_end(), self.client_end()
        if server is None or client is None:  # the connection is gone: nothing left to wait for
            return True
        return server.rx_queue == 0 and client.tx_queue == 0

    def server_has_only_the_fin_to_read(self) -> bool:
        """After a half-close: the server has read every byte before the FIN.

        The FIN counts as one unread byte until the server's recv() returns b"" (or until it
        reads the last data, if the FIN had already arrived then).
        """
        server, client = self.server_end(), self.client_end()
        if server is None or client is None:
            return True
        return server.rx_queue <= 1 and client.tx_queue == 0

    def server_has_closed(self) -> bool:
        end = self.server_end()
        return end is None or end.state != TCP_CLOSE_WAIT


def fill_past_send_buffer(
    ends: ConnectionEnds, client: socket.socket, payload: bytes, patience: float
) -> int:
    """Write a prefix of ``payload``, reading nothing, until the server owes echo in its own
    buffer; return its length (every byte of it is still owed).

    The client writes FILL_STEP at a time and waits until the server has read the step. While
    the echo held by the kernel (the server's send queue and the client's receive queue) grows
    by what the server read, the echo went into the kernel; once it grows by less for
    SHORT_STEPS steps in a row, the rest is in the server's buffer. Writing also
    stops at a step the server has not read within ``patience`` seconds (it stopped taking
    bytes: its bounded buffer is full, or a blocking send() waits) and at the end of ``payload``.
    """
    written = short_steps = 0
    while written < len(payload) and short_steps < SHORT_STEPS:
        queued = ends.echo_in_kernel()
        step = send_without_reading(client, payload[written : written + FILL_STEP])
        if not step:  # reset by the server, or nothing read from a full window: writing is over
            break
        written += step
        try:
            wait_until(ends.server_has_read_all, patience, "server to read", interval=DIAG_POLL)
        except DeadlineExceeded:
            break
        grew = ends.echo_in_kernel() - queued
        short_steps = short_steps + 1 if grew < step // 2 else 0
    return written


def recv_flush_after_eof(
    ends: ConnectionEnds, client: socket.socket, timeout: float, sent: bytes
) -> Transcript:
    """Read, after a half-close, the echo of ``sent`` and how the connection ends.

    The client reads READ_STEP at a time only while the server has data left to read before
    the FIN, so the server's last reads meet a full send queue and their echo waits in its own
    buffer when it reaches EOF. Reading on while only the FIN is left would let a server that
    is slow to wake send everything first. The client then stops for up to CLOSE_GRACE, leaving
    a server that closes at EOF the time to do it, and reads the rest until EOF.
    """
    deadline = time.monotonic() + timeout
    limit = len(sent) + 1024
    early = recv_in_steps(client, READ_STEP, ends.server_has_only_the_fin_to_read, timeout, limit)
    if early.ending is not Ending.OPEN:
        early.sent = sent
        return early
    # A server that flushes first cannot close before the client reads on: not an error.
    with contextlib.suppress(DeadlineExceeded):
        wait_until(ends.server_has_closed, CLOSE_GRACE, "server to close")
    remaining = max(deadline - time.monotonic(), 0.0)
    return recv_until_eof(client, remaining, limit, sent=sent, received=bytes(early.received))

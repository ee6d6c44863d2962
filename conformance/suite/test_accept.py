"""ACCEPT: new connections are taken in, one after another, in a burst, and after resets."""

from __future__ import annotations

import contextlib

import pytest

from conformance.harness.checks import assert_still_serving, connect_accepted, wait_accepted
from conformance.harness.client import (
    abort_with_rst,
    connect,
    connect_nonblocking,
    echo_round_trip,
    exchange_many,
)
from conformance.harness.server import ServerProcess

BURST = 200
BURST_DEADLINE = 5.0
RESET_BEFORE_ACCEPT = 2  # a listen(1) backlog still holds two


@pytest.mark.clause("ACCEPT-1")
def test_sequential_connections_are_all_served(server: ServerProcess) -> None:
    """ACCEPT-1: a failure means the server stops accepting after some connections closed."""
    for i in range(50):
        with connect(server.address) as client:
            echo_round_trip(client, f"client {i}".encode())


@pytest.mark.clause("ACCEPT-2")
def test_connect_burst_is_served_promptly(server: ServerProcess) -> None:
    """ACCEPT-2: a failure means the backlog overflows and clients wait for SYN retransmits."""
    # Paused, the server finds the whole burst waiting at once, however fast it accepts.
    with contextlib.ExitStack() as stack:
        with server.paused():
            clients = [
                stack.enter_context(connect_nonblocking(server.address)) for _ in range(BURST)
            ]
        payloads = [f"burst {i:03}".encode() for i in range(BURST)]
        # No stall limit: a client whose handshake was dropped retries after 1 s, then 3 s,
        # and may still make the deadline.
        conversations = list(zip(clients, payloads, strict=True))
        transcripts = exchange_many(conversations, BURST_DEADLINE, stall=None)
    late = [(i, t) for i, t in enumerate(transcripts) if bytes(t.received) != t.sent]
    assert not late, (
        f"{len(late)} of {BURST} clients not served within {BURST_DEADLINE:g} s; "
        f"first: client {late[0][0]}: {late[0][1].describe()}"
    )


@pytest.mark.clause("ACCEPT-3")
def test_reset_before_accept_leaves_the_server_serving(server: ServerProcess) -> None:
    """ACCEPT-3: a failure means the server dies on accept()ing a connection already reset
    (getpeername: ENOTCONN, or recv: ECONNRESET unhandled)."""
    with connect_accepted(server) as sentinel:
        # While the server is stopped the kernel completes handshakes into its accept queue.
        with server.paused():
            for _ in range(RESET_BEFORE_ACCEPT):
                abort_with_rst(connect(server.address))
        wait_accepted(server)
        assert_still_serving(server, sentinel)

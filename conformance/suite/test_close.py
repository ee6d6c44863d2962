"""CLOSE: a graceful close by the client is answered by a graceful close, after the echo."""

from __future__ import annotations

import pytest

from conformance.harness.checks import assert_still_serving, connect_accepted
from conformance.harness.client import (
    SMALL_WINDOW,
    Ending,
    assert_stays_open,
    connect,
    echo_round_trip,
    filler,
    half_close,
    recv_until_eof,
)
from conformance.harness.owing import ConnectionEnds, fill_past_send_buffer, recv_flush_after_eof
from conformance.harness.server import ServerProcess

EOF_DEADLINE = 2.0
OWED = 16 << 20  # a cap on writing, above what a kernel send buffer holds (4 MiB by default)
STALL_PATIENCE = 1.0  # seconds without progress after which the server has stopped taking bytes


@pytest.mark.clause("CLOSE-1")
def test_half_close_without_data_is_answered_with_eof(server: ServerProcess) -> None:
    """CLOSE-1: a failure means recv() == b'' does not lead the server to close, or that
    closing kills it (seed epoll: unregister() of an fd it already closed, EBADF)."""
    with connect_accepted(server) as sentinel, connect(server.address) as client:
        half_close(client)
        seen = recv_until_eof(client, EOF_DEADLINE, limit=1024)
        assert seen.ending is Ending.EOF and not seen.received, seen.describe()
        assert_still_serving(server, sentinel)


@pytest.mark.clause("CLOSE-2")
def test_data_then_half_close_is_echoed_then_eof(server: ServerProcess) -> None:
    """CLOSE-2: a failure means data that arrived with the FIN was dropped."""
    payload = b"every byte before the FIN. " * 80
    with connect_accepted(server) as client:
        with server.paused():  # so that the data and the FIN reach the server together
            client.sendall(payload)
            half_close(client)
        seen = recv_until_eof(client, EOF_DEADLINE, limit=2 * len(payload), sent=payload)
    seen.assert_echoed(then=Ending.EOF)


@pytest.mark.clause("CLOSE-3")
def test_echo_still_owed_at_half_close_is_flushed_then_eof(server: ServerProcess) -> None:
    """CLOSE-3: a failure means the server closes on EOF without flushing what it owes."""
    payload = filler(OWED)
    with connect(server.address, rcvbuf=SMALL_WINDOW) as client:
        ends = ConnectionEnds(client)
        owed = fill_past_send_buffer(ends, client, payload, patience=STALL_PATIENCE)
        half_close(client)
        seen = recv_flush_after_eof(ends, client, 10.0, sent=payload[:owed])
    seen.assert_echoed(then=Ending.EOF)


@pytest.mark.clause("CLOSE-4")
def test_idle_connection_stays_open(server: ServerProcess) -> None:
    """CLOSE-4: a failure means the server closes connections it should keep (idle timeout,
    EAGAIN taken for EOF)."""
    with connect(server.address) as client:
        echo_round_trip(client, b"before idling")
        assert_stays_open(client, 1.0)
        echo_round_trip(client, b"after idling")


@pytest.mark.clause("CLOSE-4")
def test_connection_serves_many_messages(server: ServerProcess) -> None:
    """CLOSE-4: a failure means the server closes after one message (one-shot handler)."""
    with connect(server.address) as client:
        for i in range(20):
            echo_round_trip(client, f"message {i}".encode())

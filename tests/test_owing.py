"""The CLOSE-3 machinery: kernel queue lookups, and making a server hold echo in its own buffer.

Real sockets and a real reference server on loopback, no mocks.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.harness.client import (
    SMALL_WINDOW,
    Ending,
    abort_with_rst,
    connect,
    filler,
    half_close,
    recv_in_steps,
)
from conformance.harness.owing import ConnectionEnds, fill_past_send_buffer, recv_flush_after_eof
from conformance.harness.server import ServerCommand, ServerProcess
from conformance.harness.sockdiag import TCP_CLOSE_WAIT, TcpState, tcp_connection
from conformance.harness.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(client, server end) of one loopback connection, no server program involved."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
    with client, accepted:
        yield client, accepted


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    command = ServerCommand.bundled(ROOT / "implementations" / "selectors_echo.py")
    process = ServerProcess(command, tmp_path_factory.mktemp("owing") / "server.log")
    try:
        yield process.start()
    finally:
        process.stop()


def test_lookup_sees_unread_bytes_and_the_fin_then_close_wait(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, accepted = pair

    def server_end() -> TcpState:
        state = tcp_connection(accepted.getsockname(), accepted.getpeername())
        assert state is not None
        return state

    client.sendall(b"x" * 100)
    wait_until(lambda: server_end().rx_queue == 100, 2.0, "100 bytes unread")
    half_close(client)
    wait_until(lambda: server_end().state == TCP_CLOSE_WAIT, 2.0, "CLOSE_WAIT")
    assert server_end().rx_queue == 101  # the FIN counts as one byte until it is read
    assert accepted.recv(200) == b"x" * 100
    assert server_end().rx_queue == 0


def test_lookup_of_a_connection_that_does_not_exist_is_none() -> None:
    assert tcp_connection(("127.0.0.1", 1), ("127.0.0.1", 2)) is None


def test_stepped_read_stops_when_told_and_leaves_the_connection_open(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, accepted = pair
    accepted.sendall(b"y" * 40_000)
    checks: list[None] = []

    def after_three_steps() -> bool:
        checks.append(None)
        return len(checks) > 3

    seen = recv_in_steps(client, 1000, after_three_steps, 2.0, limit=40_000)
    assert seen.ending is Ending.OPEN and len(seen.received) == 3000


def test_fill_leaves_echo_in_the_servers_own_buffer_and_all_of_it_comes_back(
    reference: ServerProcess,
) -> None:
    payload = filler(16 << 20)
    with connect(reference.address, rcvbuf=SMALL_WINDOW) as client:
        ends = ConnectionEnds(client)
        owed = fill_past_send_buffer(ends, client, payload, patience=1.0)
        in_kernel = ends.echo_in_kernel()
        assert ends.server_has_read_all()
        assert 0 < in_kernel < owed < len(payload), (in_kernel, owed)
        half_close(client)
        seen = recv_flush_after_eof(ends, client, 10.0, sent=payload[:owed])
    seen.assert_echoed(then=Ending.EOF)


def test_fill_stops_at_once_when_the_server_resets(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, accepted = pair
    ends = ConnectionEnds(client)
    abort_with_rst(accepted)
    wait_until(lambda: ends.server_end() is None, 2.0, "server end gone")
    # Every send now fails (the reset) and the server end is gone, so "the server has read
    # all" holds at once: writing must stop rather than retry the same step forever.
    assert fill_past_send_buffer(ends, client, filler(1 << 20), patience=1.0) == 0
